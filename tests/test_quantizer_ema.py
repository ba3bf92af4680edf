"""Tests of oasis_helpers.quantizer.ema: the EMA update, in exact numbers (what the EMA layer
shares with the plain one is tested in test_quantizer_layer)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from oasis_fixtures import make_layer

from oasis_helpers.quantizer import VectorQuantizerEMA


@pytest.mark.parametrize("epsilon", [0.0, 1e-5])
def test_ema_moves_a_used_code_to_the_running_mean(epsilon):
    layer = make_layer(VectorQuantizerEMA, [[0.0, 0.0], [10.0, 10.0]], decay=0.5, epsilon=epsilon)
    inputs = tf.constant([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])  # all nearest to code 0

    layer(inputs, training=False)  # no update outside training
    np.testing.assert_array_equal(layer.codebook.numpy(), [[0, 0], [10, 10]])

    layer(inputs, training=True)
    # sizes = 0.5 * 1 + 0.5 * [3, 0] = [2, 0.5]; sums = 0.5 * [(0,0), (10,10)] + 0.5 * [(3,3), 0]
    np.testing.assert_allclose(layer.ema_cluster_size.numpy(), [2.0, 0.5])
    np.testing.assert_allclose(layer.ema_embedding_sum.numpy(), [[1.5, 1.5], [5.0, 5.0]])
    total = 2.5
    smoothed = (np.array([2.0, 0.5]) + epsilon) / (total + 2 * epsilon) * total
    expected = np.array([[1.5, 1.5], [5.0, 5.0]]) / smoothed[:, None]
    np.testing.assert_allclose(layer.codebook.numpy(), expected, rtol=1e-6)
    if epsilon == 0.0:  # the count-weighted mean of (0,0) (pseudo-count) and the 3 inputs
        np.testing.assert_allclose(layer.codebook.numpy(), [[0.75, 0.75], [10, 10]], rtol=1e-6)

    layer(inputs, training=True)  # a second step moves code 0 further toward the batch mean
    sizes = 0.5 * np.array([2.0, 0.5]) + 0.5 * np.array([3.0, 0.0])
    sums = 0.5 * np.array([[1.5, 1.5], [5.0, 5.0]]) + 0.5 * np.array([[3.0, 3.0], [0, 0]])
    smoothed = (sizes + epsilon) / (sizes.sum() + 2 * epsilon) * sizes.sum()
    np.testing.assert_allclose(layer.codebook.numpy(), sums / smoothed[:, None], rtol=1e-6)
    assert 0.75 < layer.codebook.numpy()[0, 0] < 1.0  # batch mean is 1.0

    layer.trainable = False  # a frozen layer keeps its codebook even when training
    before = layer.codebook.numpy()
    layer(inputs, training=True)
    np.testing.assert_array_equal(layer.codebook.numpy(), before)
