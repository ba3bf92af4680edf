"""Tests of oasis_helpers.quantizer.statistics: code counts, perplexity and usage, by hand."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from oasis_helpers import quantizer


def test_perplexity_and_usage_functions():
    uniform = tf.constant([5.0, 5.0, 5.0, 5.0])
    single = tf.constant([0.0, 7.0, 0.0, 0.0])
    np.testing.assert_allclose(float(quantizer.perplexity_from_counts(uniform)), 4.0, rtol=1e-6)
    np.testing.assert_allclose(float(quantizer.perplexity_from_counts(single)), 1.0)
    assert float(quantizer.codebook_usage_from_counts(single)) == 0.25
    assert float(quantizer.codebook_usage_from_counts(uniform)) == 1.0
    counts = quantizer.code_counts(tf.constant([[0, 2], [2, 2]]), 4).numpy()
    np.testing.assert_array_equal(counts, [1, 0, 3, 0])
