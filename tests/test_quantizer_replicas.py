"""Tests of oasis_helpers.quantizer.replicas: a MirroredStrategy over two logical CPUs (in a
subprocess) updates, initialises and restarts the codebook as one device does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from oasis_helpers.quantizer import VectorQuantizer, VectorQuantizerEMA

    rng = np.random.default_rng(0)
    batches = rng.normal(size=(2, 32, 4)).astype("float32")
    codebook = rng.normal(size=(8, 4)).astype("float32")

    def make(strategy):
        with strategy.scope():
            layer = VectorQuantizerEMA(8, 4, decay=0.8, init=None, dead_code_steps=None, seed=1)
            layer.build((None, 4))
            layer.set_codebook(codebook)
        return layer

    single = make(tf.distribute.get_strategy())
    for batch in batches:
        single(batch, training=True)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored = make(strategy)

    @tf.function(autograph=False)
    def step(batch):
        strategy.run(lambda part: mirrored(part, training=True), args=(batch,))

    for batch in strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(batches)
    ):
        step(batch)

    # The plain layer with data init, restarts and an optimizer step under the strategy too.
    with strategy.scope():
        plain = VectorQuantizer(16, 4, init="random", dead_code_steps=1, seed=2)
        plain.build((None, 4))
        optimizer = keras.optimizers.Adam(0.01)
        optimizer.build(plain.trainable_weights)

    def train_step(part):
        with tf.GradientTape() as tape:
            _, losses = plain(part, training=True, return_losses=True)
            loss = tf.add_n(list(losses.values()))
        gradients = tape.gradient(loss, plain.trainable_weights)
        optimizer.apply_gradients(zip(gradients, plain.trainable_weights))

    @tf.function(autograph=False)
    def plain_step(batch):
        strategy.run(train_step, args=(batch,))

    for batch in strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(batches)
    ):
        plain_step(batch)
    fit_perplexity = float(plain.perplexity_tracker.result())
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "moved": float(np.abs(single.codebook.numpy() - codebook).max()),
        "codebook_diff": float(np.abs(single.codebook.numpy() - mirrored.codebook.numpy()).max()),
        "sizes_diff": float(np.abs(
            single.ema_cluster_size.numpy() - mirrored.ema_cluster_size.numpy()).max()),
        "fit_perplexity": fit_perplexity,
        "restarted": plain.dead_codes_restarted,
        "initialized": int(plain.initialized.numpy()),
    }))
    """
)


def test_mirrored_strategy_on_two_cpus_equals_one_device():
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment["PYTHONPATH"] = os.pathsep.join(
        [repository] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])
    )
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["moved"] > 0.01  # the update did something
    assert result["codebook_diff"] < 1e-5
    assert result["sizes_diff"] < 1e-5
    assert result["initialized"] == 1 and result["fit_perplexity"] >= 1.0
    assert result["restarted"] > 0  # restarts happen under the strategy too
