"""Tests of oasis_helpers.quantizer.distances: the matrix product equals the direct formula."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from oasis_helpers import quantizer


def test_squared_distances_match_direct_formula():
    rng = np.random.default_rng(1)
    flat, codebook = rng.normal(size=(7, 4)), rng.normal(size=(5, 4))
    expected = ((flat[:, None, :] - codebook[None]) ** 2).sum(-1)
    got = quantizer.squared_distances(tf.constant(flat), tf.constant(codebook)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
