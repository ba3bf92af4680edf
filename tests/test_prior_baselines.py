"""The baselines the prior must beat (oasis_helpers.prior.baselines), on known
distributions and deterministic rules."""

from __future__ import annotations

import math

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior


def test_uniform_and_unigram_baselines_on_known_distributions():
    codes = fx.random_codes(2, 3, 3)
    assert prior.UniformBaseline(fx.PRIOR_CODES).nll_map_bits(codes).mean() == pytest.approx(
        math.log2(fx.PRIOR_CODES)
    )
    # two codes with frequencies 3/4 and 1/4: entropy 0.811 bits
    skewed = np.zeros((4, 10, 10), np.int32)
    skewed[:, :, :] = np.array([0, 0, 0, 1] * 25).reshape(10, 10)
    unigram = prior.UnigramBaseline(fx.PRIOR_CODES, smoothing=1e-6).fit(skewed)
    entropy = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert unigram.entropy_bits() == pytest.approx(entropy, abs=1e-4)
    assert unigram.nll_map_bits(skewed).mean() == pytest.approx(entropy, abs=1e-4)
    draws = unigram.sample(50, 10, 10, seed=0)
    assert abs((draws == 1).mean() - 0.25) < 0.02 and set(np.unique(draws)) <= {0, 1}


def test_neighbour_table_learns_a_deterministic_rule_and_samples_it():
    # c[i, j] = (c[i, j-1] + c[i-1, j]) mod K: deterministic given both neighbours
    rng = np.random.default_rng(0)
    count, size = 400, 8
    codes = np.zeros((count, size, size), np.int64)
    codes[:, 0, :] = rng.integers(0, fx.PRIOR_CODES, (count, size))
    codes[:, :, 0] = rng.integers(0, fx.PRIOR_CODES, (count, size))
    for row in range(1, size):
        for column in range(1, size):
            codes[:, row, column] = (codes[:, row, column - 1] + codes[:, row - 1, column]) % 7
    codes = codes.astype(np.int32)
    table = prior.NeighbourBaseline(fx.PRIOR_CODES, smoothing=0.01).fit(codes)
    maps = table.nll_map_bits(codes)
    assert maps[:, 1:, 1:].max() < 0.01  # inside: determined by the neighbours
    assert maps[:, 0, 1:].mean() == pytest.approx(math.log2(fx.PRIOR_CODES), abs=0.1)
    unigram_bits = prior.UnigramBaseline(fx.PRIOR_CODES).fit(codes).nll_map_bits(codes).mean()
    assert maps.mean() < 0.5 * unigram_bits
    samples = table.sample(20, size, size, seed=1)
    inside = (samples[:, :-1, 1:] + samples[:, 1:, :-1]) % 7 == samples[:, 1:, 1:]
    assert inside.mean() > 0.97
    assert samples.min() >= 0 and samples.max() < fx.PRIOR_CODES


def test_neighbour_table_smooths_unseen_contexts_towards_the_unigram():
    codes = np.zeros((2, 4, 4), np.int32)
    table = prior.NeighbourBaseline(fx.PRIOR_CODES, smoothing=2.0).fit(codes)
    unseen = np.full((1, 4, 4), 3, np.int32)
    bits = table.nll_map_bits(unseen)
    assert np.isfinite(bits).all()
    # context (outside, outside) was seen twice with code 0: p(3) = 2 * p_uni(3) / (2 + 2)
    expected = -math.log2(2.0 * table.unigram.probabilities[3] / 4.0)
    assert bits[0, 0, 0] == pytest.approx(expected, rel=1e-5)


def test_an_unfitted_neighbour_table_samples_its_unigram_fallback():
    """No counts yet: every draw falls back on the unigram part (uniform before a fit),
    instead of indexing the empty table."""
    table = prior.NeighbourBaseline(fx.PRIOR_CODES)
    samples = table.sample(50, 6, 6, seed=3)
    assert samples.shape == (50, 6, 6) and samples.dtype == np.int32
    counts = np.bincount(samples.ravel(), minlength=fx.PRIOR_CODES)
    assert len(counts) == fx.PRIOR_CODES and counts.min() > 0.5 * samples.size / fx.PRIOR_CODES
    np.testing.assert_array_equal(samples, table.sample(50, 6, 6, seed=3))
    np.testing.assert_allclose(table.nll_map_bits(samples), math.log2(fx.PRIOR_CODES), rtol=1e-6)


def test_neighbour_table_chooses_its_smoothing_on_validation_grids():
    rng = np.random.default_rng(2)
    train = rng.integers(0, fx.PRIOR_CODES, (30, 6, 6)).astype(np.int32)
    validation = rng.integers(0, fx.PRIOR_CODES, (10, 6, 6)).astype(np.int32)
    table = prior.NeighbourBaseline(fx.PRIOR_CODES).fit(train, validation_codes=validation)
    scores = table.validation_scores
    assert set(scores) == set(prior.SMOOTHING_CANDIDATES)
    assert table.smoothing == min(scores, key=scores.get)
    # random codes: the neighbours carry no information, so heavy smoothing wins
    assert table.smoothing == max(prior.SMOOTHING_CANDIDATES)
    expected = table.nll_map_bits(validation).mean()
    assert expected == pytest.approx(scores[table.smoothing])
