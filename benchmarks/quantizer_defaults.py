"""Measure codebook health options of oasis_helpers.quantizer on brain slices.

Two tasks on the demo cohort (data.load_slices(None, image_size=64)):

A. "patches": the quantizer alone fitted to 4x4 patches of brain slices
   (16-D vectors, K=512), minibatches of 1024 patches; the loss is the layer's own.
B. "autoencoder": a tiny conv VQ-VAE (64x64 -> 16x16x16 latent, K=512) trained
   with MSE + the layer's losses.

For each layer (standard/EMA) x init (None/random/kmeans++) x dead_code_steps
(None/20/100) it prints and writes JSON: validation perplexity, codebook usage
(over the whole validation set), reconstruction MSE, restarts, seconds. The EMA
decay is ``--ema-decay`` (default: the layer's default, 0.95); the stored
``results/quantizer_defaults_res*.json`` were measured with 0.99, the layer default
of that time. The losses are the ones the layer returns (``return_losses=True``).

Usage::

    .venv/bin/python benchmarks/quantizer_defaults.py \
        --out benchmarks/results/quantizer_defaults.json [--steps-a 300 --steps-b 400]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from oasis_helpers import data, runs  # noqa: E402
from oasis_helpers.quantizer import (  # noqa: E402
    DEFAULT_EMA_DECAY,
    PATCH_STUDY,
    VectorQuantizer,
    VectorQuantizerEMA,
    code_counts,
    codebook_usage_from_counts,
    perplexity_from_counts,
)

K, D = PATCH_STUDY["num_embeddings"], PATCH_STUDY["embedding_dim"]  # notebook 02's


EMA_DECAY = DEFAULT_EMA_DECAY  # set from --ema-decay in main()


def make_layer(kind, init, dead, seed):
    if kind == "standard":
        return VectorQuantizer(K, D, init=init, dead_code_steps=dead, seed=seed)
    return VectorQuantizerEMA(K, D, decay=EMA_DECAY, init=init, dead_code_steps=dead, seed=seed)


def quantizer_loss(layer, inputs):
    """Quantize ``inputs`` in training mode; the sum of the losses the layer returns."""
    outputs, losses = layer(inputs, training=True, return_losses=True)
    return outputs, tf.add_n(list(losses.values()))


def health(layer, vectors):
    idx = layer.code_indices(vectors)
    counts = code_counts(idx, K)
    return float(perplexity_from_counts(counts)), float(codebook_usage_from_counts(counts)), idx


def task_patches(kind, init, dead, train, val, steps, seed):
    runs.seed_everything(seed)
    layer = make_layer(kind, init, dead, seed)
    layer.build((None, D))
    optimizer = keras.optimizers.Adam(PATCH_STUDY["learning_rate"])
    rng = np.random.default_rng(seed)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            _, loss = quantizer_loss(layer, batch)
        if layer.trainable_weights:
            grads = tape.gradient(loss, layer.trainable_weights)
            optimizer.apply_gradients(zip(grads, layer.trainable_weights, strict=True))
        return loss

    start = time.perf_counter()
    for _ in range(steps):
        step(tf.constant(train[rng.integers(0, len(train), PATCH_STUDY["batch_size"])]))
    seconds = time.perf_counter() - start
    perplexity, usage, idx = health(layer, val)
    mse = float(np.mean((val - layer.lookup(idx).numpy()) ** 2))
    return dict(
        perplexity=perplexity,
        usage=usage,
        mse=mse,
        restarts=layer.dead_codes_restarted,
        seconds=seconds,
    )


def tiny_vqvae(layer):
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.Conv2D(32, 4, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 4, strides=2, padding="same", activation="relu")(x)
    z = keras.layers.Conv2D(D, 1)(x)
    encoder = keras.Model(inputs, z)
    latent = keras.Input((16, 16, D))
    y = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")(latent)
    y = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")(y)
    decoder = keras.Model(latent, keras.layers.Conv2D(1, 3, padding="same")(y))
    return encoder, decoder


def task_autoencoder(kind, init, dead, train, val, steps, seed):
    runs.seed_everything(seed)
    layer = make_layer(kind, init, dead, seed)
    encoder, decoder = tiny_vqvae(layer)
    optimizer = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(seed)

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            quantized, vq_loss = quantizer_loss(layer, encoder(images))
            recon = decoder(quantized)
            loss = tf.reduce_mean(tf.square(recon - images)) + vq_loss
        params = encoder.trainable_weights + decoder.trainable_weights + layer.trainable_weights
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params, strict=True))
        return loss

    start = time.perf_counter()
    for _ in range(steps):
        step(tf.constant(train[rng.integers(0, len(train), 16)]))
    seconds = time.perf_counter() - start
    z = encoder(val)
    perplexity, usage, idx = health(layer, z)
    recon = decoder(layer.lookup(idx)).numpy()
    mse = float(np.mean((recon - val) ** 2))
    return dict(
        perplexity=perplexity,
        usage=usage,
        mse=mse,
        restarts=layer.dead_codes_restarted,
        seconds=seconds,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/results/quantizer_defaults.json")
    parser.add_argument("--steps-a", type=int, default=PATCH_STUDY["steps"])
    parser.add_argument("--steps-b", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--tasks", nargs="*", default=["patches", "autoencoder"])
    parser.add_argument("--dead", nargs="*", default=["none", "20", "100"])
    parser.add_argument("--inits", nargs="*", default=["none", "random", "kmeans++"])
    parser.add_argument("--layers", nargs="*", default=["standard", "ema"])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--max-patches", type=int, default=300_000)
    parser.add_argument("--ema-decay", type=float, default=DEFAULT_EMA_DECAY)
    args = parser.parse_args()
    global EMA_DECAY
    EMA_DECAY = args.ema_decay
    source = data.load_slices(None, image_size=args.image_size, seed=42)
    train_images = source.splits["train"].float_images()  # 64x64 demo slices: small
    val_images = source.splits["validate"].float_images()
    patch = PATCH_STUDY["patch_size"]
    train_patches = data.sample_patches(train_images, patch, max_patches=args.max_patches, seed=0)
    val_patches = data.sample_patches(val_images, patch, max_patches=args.max_patches // 4, seed=1)
    inits = [None if i == "none" else i for i in args.inits]
    results = []
    deads = [None if d == "none" else int(d) for d in args.dead]
    for task in args.tasks:
        for seed, kind, init, dead in itertools.product(args.seeds, args.layers, inits, deads):
            if task == "patches":
                result = task_patches(
                    kind, init, dead, train_patches, val_patches, args.steps_a, seed
                )
            else:
                result = task_autoencoder(
                    kind, init, dead, train_images, val_images, args.steps_b, seed
                )
            row = dict(
                task=task,
                image_size=args.image_size,
                steps=args.steps_a if task == "patches" else args.steps_b,
                seed=seed,
                layer=kind,
                ema_decay=EMA_DECAY if kind == "ema" else None,
                init=str(init),
                dead_code_steps=dead,
                **result,
            )
            results.append(row)
            print(json.dumps(row), flush=True)
            with open(args.out, "w") as handle:
                json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
