"""Fitting a bare quantizer layer to fixed vectors: notebook 02's patch experiments.

:data:`PATCH_STUDY` holds the study's settings (brain-slice patches, codebook size, steps);
:func:`fit_to_vectors` fits a layer without encoder or decoder (online k-means) and returns
its per-step history.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.quantizer.layer import DEFAULT_COMMITMENT_COST, VectorQuantizer

__all__ = [
    "PATCH_STUDY",
    "fit_to_vectors",
]

#: The patch study: a quantizer alone fitted to ``patch_size x patch_size`` patches of brain
#: slices (``embedding_dim = patch_size**2`` numbers each) with ``num_embeddings`` codes, for
#: ``steps`` steps of ``batch_size`` patches (Adam at ``learning_rate`` for the
#: gradient-trained codebook). Notebook 02's defaults (the README's notebook-02 table) and the
#: "patches" task of ``benchmarks/quantizer_defaults.py`` (which chose the defaults above).
#: Its codebook is twice the series' VQ-VAE's (``models.DEFAULT_CONFIG``: 256).
PATCH_STUDY: dict[str, Any] = {
    "num_embeddings": 512,  # K
    "embedding_dim": 16,  # D: the 16 pixels of a 4x4 patch
    "patch_size": 4,
    "commitment_cost": DEFAULT_COMMITMENT_COST,  # beta
    "steps": 300,
    "batch_size": 1024,
    "learning_rate": 1e-3,
}


def fit_to_vectors(
    layer: VectorQuantizer,
    vectors: npt.ArrayLike,
    steps: int,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Fit a bare quantizer to fixed vectors ``[M, D]`` (no encoder, no decoder).

    Each step draws ``batch_size`` random vectors, calls the layer with
    ``training=True, return_losses=True`` (data initialisation, restarts and EMA
    updates happen there) and, when the layer has trainable weights (the plain
    layer's codebook), takes an Adam step on the sum of the returned
    :func:`vq_losses`. With fixed inputs the commitment loss has nothing to
    train, so this is online k-means.

    Returns:
        ``history``: lists per step of ``loss``, ``batch_perplexity`` and
        ``batch_codebook_usage`` (of that step's batch) and ``dead_codes_restarted``
        (total so far), plus ``seconds`` (wall-clock time of the loop).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != layer.embedding_dim:
        raise ValueError(f"vectors must have shape [M, {layer.embedding_dim}], got {vectors.shape}")
    if int(steps) < 0 or int(batch_size) < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps!r}, {batch_size!r}")
    if not layer.built:
        layer.build((None, layer.embedding_dim))
    optimizer = keras.optimizers.Adam(learning_rate)
    trainable = list(layer.trainable_weights)
    if trainable:
        optimizer.build(trainable)

    @tf.function
    def train_step(batch):
        for metric in layer.metrics:
            metric.reset_state()
        with tf.GradientTape() as tape:
            _, losses = layer(batch, training=True, return_losses=True)
            loss = tf.add_n(list(losses.values()))
        if trainable:
            gradients = tape.gradient(loss, trainable)
            optimizer.apply_gradients(zip(gradients, trainable, strict=True))
        return (
            loss,
            layer.perplexity_tracker.result(),
            layer.usage_tracker.result(),
            layer.dead_codes_restarted_total.value,
        )

    random_state = np.random.default_rng(seed)
    history = {
        "loss": [],
        "batch_perplexity": [],
        "batch_codebook_usage": [],
        "dead_codes_restarted": [],
    }
    start = time.perf_counter()
    for _ in range(int(steps)):
        batch = vectors[random_state.integers(0, len(vectors), batch_size)]
        values = train_step(tf.constant(batch))
        for key, value in zip(history, values, strict=True):
            history[key].append(float(value))
    history["seconds"] = time.perf_counter() - start
    return history
