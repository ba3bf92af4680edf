"""The prior's likelihood in bits per code (oasis_helpers.prior.likelihood)."""

from __future__ import annotations

import math

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior


def test_nll_maps_match_the_softmax_of_the_logits():
    model = fx.tiny_prior(2, conditional=True)
    codes = fx.random_codes(3, 4, 5)
    slice_heights = np.array([0.1, 0.5, 0.9], np.float32)
    maps = prior.nll_map_bits(model, codes, slice_heights, batch_size=2)
    logits = prior.prior_logits(model, codes, slice_heights).astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_softmax, codes[..., None], -1)[..., 0] / math.log(2)
    assert maps.shape == (3, 4, 5)
    np.testing.assert_allclose(maps, expected, rtol=1e-4)
    np.testing.assert_allclose(
        prior.nll_bits_per_slice(model, codes, slice_heights), expected.mean((1, 2)), rtol=1e-4
    )
    assert prior.nll_bits_per_code(model, codes, slice_heights) == pytest.approx(
        expected.mean(), 1e-4
    )
