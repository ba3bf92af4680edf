"""Tests of oasis_helpers.metrics.codes: perplexity, usage, code statistics and codebook health
against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oasis_helpers import metrics


def test_perplexity_and_codebook_usage_from_indices():
    uniform = np.arange(64).reshape(4, 4, 4) % 16  # all 16 codes, equally often
    assert metrics.perplexity(uniform, 16) == pytest.approx(16.0, rel=1e-5)
    assert metrics.codebook_usage(uniform, 32) == pytest.approx(0.5)
    single = np.full((2, 8, 8), 3)
    assert metrics.perplexity(single, 16) == pytest.approx(1.0)
    assert metrics.codebook_usage(single, 16) == pytest.approx(1 / 16)
    two = np.array([0, 0, 0, 1])  # p = (3/4, 1/4)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert metrics.perplexity(two, 4) == pytest.approx(math.exp(entropy), rel=1e-5)
    np.testing.assert_array_equal(metrics.code_histogram(two, 4), [3, 1, 0, 0])


def test_code_statistics_of_code_grids_are_the_single_metrics_at_once():
    grids = np.array([[[0, 0], [0, 1]], [[1, 1], [3, 0]]])  # two 2x2 grids: 4 x 0, 3 x 1, 1 x 3
    statistics = metrics.code_statistics(grids, 5)
    np.testing.assert_array_equal(statistics["counts"], [4, 3, 0, 1, 0])
    assert statistics["counts"].dtype == np.int64
    assert statistics["codebook_usage"] == metrics.codebook_usage(grids, 5) == pytest.approx(0.6)
    assert statistics["code_perplexity"] == metrics.perplexity(grids, 5)
    entropy = -sum(p * math.log(p) for p in (4 / 8, 3 / 8, 1 / 8))
    assert statistics["code_perplexity"] == pytest.approx(math.exp(entropy), rel=1e-5)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        metrics.code_statistics(grids, 3)


def test_codebook_metrics_reject_bad_indices():
    with pytest.raises(ValueError, match=r"lie in \[0, 7\]"):
        metrics.perplexity(np.array([0, 8]), 8)
    with pytest.raises(ValueError, match="integers"):
        metrics.codebook_usage(np.array([0.5]), 8)
    with pytest.raises(ValueError, match="no code indices"):
        metrics.codebook_usage(np.array([], dtype=np.int32), 8)


def test_codebook_health_over_a_whole_set_on_a_hand_case():
    from oasis_helpers.quantizer import VectorQuantizer

    layer = VectorQuantizer(3, 2, init=None, dead_code_steps=None, seed=0)
    layer.set_codebook([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0]])
    vectors = np.array([[0.1, 0.0], [0.0, 0.1], [1.0, 0.8], [0.9, 1.0]], np.float32)
    # small batches: the statistics come from one histogram over all vectors, not per batch
    health = metrics.codebook_health(layer, vectors, batch_size=1)
    np.testing.assert_array_equal(health["counts"], [2, 2, 0])
    assert health["codebook_usage"] == pytest.approx(2 / 3)
    assert health["code_perplexity"] == pytest.approx(2.0, rel=1e-6)  # a batch of 1 gives 1
    assert health["reconstruction_mse"] == pytest.approx((0.01 * 3 + 0.04) / 8, rel=1e-5)
    assert health["code_perplexity"] == pytest.approx(
        metrics.perplexity(np.array([0, 0, 1, 1]), 3), rel=1e-6
    )
    with pytest.raises(ValueError, match=r"\[M, D\]"):
        metrics.codebook_health(layer, np.zeros((0, 2), np.float32))
