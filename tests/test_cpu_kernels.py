"""Every layer the package trains runs on TensorFlow's default CPU kernels.

TensorFlow turns its oneDNN kernels on only on some CPUs (recent Intel); elsewhere the
Eigen kernels run, and they have no gradient for a dilated ``tf.nn.conv2d``. CI runs the
suite with ``TF_ENABLE_ONEDNN_OPTS=0`` (``.ci/run``), so the in-process tests here train the
dilated layers on Eigen; the subprocess test trains them again with oneDNN forced on, and
checks the hole convolution against TensorFlow's own dilated op where oneDNN provides it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from oasis_helpers import blind_spot, prior


@pytest.mark.parametrize("dilation", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(16, 16), (13, 18)])
def test_dilated_same_conv_equals_tensorflows_dilated_convolution(dilation, size):
    rng = np.random.default_rng(dilation)
    inputs = tf.constant(rng.normal(size=(2, *size, 3)), tf.float32)
    kernel = tf.constant(rng.normal(size=(5, 5, 3, 4)), tf.float32)
    # tf.nn.convolution goes through space_to_batch for dilations > 1, on every kernel set
    expected = tf.nn.convolution(inputs, kernel, padding="SAME", dilations=dilation)
    actual = blind_spot.dilated_same_conv(inputs, kernel, dilation)
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


def test_the_blind_spot_model_and_the_prior_train_compiled_on_this_process_kernels():
    """The compiled (graph) training step, as notebooks 04 and 05 run it, with every
    dilation of the defaults: it must neither fail nor produce a non-finite loss."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 8, (8, 16, 16)).astype(np.int32)
    heights = rng.uniform(0, 1, 8).astype(np.float32)
    model = blind_spot.make_blind_spot_model(8, 16, hole=3)
    history = blind_spot.train_blind_spot_model(model, codes, heights, epochs=2, verbose=0)
    assert np.all(np.isfinite(history["loss"]))
    dilations = prior.DEFAULT_PRIOR["dilations"]
    assert max(dilations) > 1  # the defaults do dilate: this test trains a dilated prior
    pixelcnn = prior.make_prior(
        num_embeddings=8, num_layers=len(dilations), hidden_channels=8, head_channels=16
    )
    dataset = prior.make_code_dataset(codes, heights, batch_size=4, repeat=False)
    history = pixelcnn.fit(dataset, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


_ONEDNN_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf
    from oasis_helpers import blind_spot

    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.normal(size=(2, 16, 16, 3)), tf.float32)
    kernel = tf.constant(rng.normal(size=(7, 7, 3, 4)), tf.float32)
    report = {}

    def value_and_grads(convolve):
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = convolve(inputs, kernel)
            loss = tf.reduce_sum(outputs**2)
        return [outputs, *tape.gradient(loss, [inputs, kernel])]

    for dilation in (2, 4):
        try:
            native = value_and_grads(
                lambda x, k: tf.nn.conv2d(x, k, 1, "SAME", dilations=dilation)
            )
        except tf.errors.InvalidArgumentError:
            report["onednn"] = False
            break
        ours = value_and_grads(lambda x, k: blind_spot.dilated_same_conv(x, k, dilation))
        report["onednn"] = True
        report[f"d{dilation}"] = max(
            float(tf.reduce_max(tf.abs(a - b)) / (tf.reduce_max(tf.abs(a)) + 1e-6))
            for a, b in zip(native, ours)
        )
    codes = rng.integers(0, 8, (8, 16, 16)).astype(np.int32)
    model = blind_spot.make_blind_spot_model(8, 16, hole=3)
    history = blind_spot.train_blind_spot_model(
        model, codes, 0.5, epochs=2, batch_size=4, verbose=0
    )
    report["losses"] = history["loss"]
    print(json.dumps(report))
    """
)


def test_the_hole_convolution_matches_and_trains_with_onednn_on():
    environment = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _ONEDNN_SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert np.all(np.isfinite(report["losses"]))
    if not report["onednn"]:
        pytest.skip("this CPU leaves oneDNN off even when asked: no dilated conv2d to compare")
    assert report["d2"] < 1e-4 and report["d4"] < 1e-4, report
