"""Sampling from the prior (oasis_helpers.prior.sampling): the fast sampler against the
full network step by step and draw by draw, temperature and top-k.

Tiny models (tests/oasis_fixtures.py) keep the file fast.
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior


@pytest.mark.parametrize(
    ("num_layers", "conditional", "coordinates", "jit_compile", "dilations", "kernel_size"),
    [
        (1, False, False, False, (1,), 3),
        (3, True, True, False, (1,), 3),
        (2, True, False, False, (1,), 3),
        (2, False, True, False, (1,), 3),
        (2, True, True, True, (1,), 3),
        # dilated: caches of n*d rows and columns, grids smaller than the reach
        (4, True, False, False, (1, 2, 4), 3),
        (3, False, True, True, (2, 3), 3),
        (2, True, True, False, (3, 1), 5),
    ],
)
def test_fast_sampler_gives_the_full_networks_distribution_at_every_step(
    num_layers, conditional, coordinates, jit_compile, dilations, kernel_size
):
    model = fx.tiny_prior(
        num_layers, conditional, kernel_size, coordinates=coordinates, dilations=dilations
    )
    height, width = (4, 5) if dilations == (1,) else (9, 11)
    codes = fx.random_codes(3, height, width, seed=4)
    slice_heights = None if not conditional else np.array([0.0, 0.5, 1.0], np.float32)
    full = prior.prior_logits(model, codes, slice_heights)
    fast = prior.FastSampler(model, jit_compile=jit_compile).teacher_forced_logits(
        codes, slice_heights
    )
    assert fast.shape == full.shape == (3, height, width, fx.PRIOR_CODES)
    np.testing.assert_allclose(fast, full, atol=1e-5)


@pytest.mark.parametrize(
    ("conditional", "coordinates", "temperature", "top_k", "dilations"),
    [(False, False, 1.0, None, (1,)), (True, True, 0.7, 3, (1,)), (True, False, 1.0, None, (1, 2))],
)
def test_fast_and_naive_samplers_draw_identical_grids(
    conditional, coordinates, temperature, top_k, dilations
):
    model = fx.tiny_prior(3, conditional, coordinates=coordinates, dilations=dilations)
    kwargs = {
        "slice_heights": 0.3 if conditional else None,
        "temperature": temperature,
        "top_k": top_k,
        "seed": 11,
    }
    fast = prior.sample_codes(model, 4, 4, 5, **kwargs)
    naive = prior.sample_codes_naive(model, 4, 4, 5, **kwargs)
    np.testing.assert_array_equal(fast, naive)
    assert fast.dtype == np.int32 and fast.shape == (4, 4, 5)
    other_seed = prior.sample_codes(model, 4, 4, 5, **{**kwargs, "seed": 12})
    assert not np.array_equal(fast, other_seed)


def test_top_k_and_temperature_shape_the_draws():
    model = fx.tiny_prior(2)
    # an untrained model's logits at (0, 0) are its zero biases (a tie): break the tie
    model.head_logits.bias.assign(np.linspace(-1.0, 1.0, fx.PRIOR_CODES).astype(np.float32))
    # top_k = 1 is the argmax: the same grid for every seed
    first = prior.sample_codes(model, 2, 3, 3, top_k=1, seed=0)
    second = prior.sample_codes(model, 2, 3, 3, top_k=1, seed=1)
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="temperature"):
        prior.sample_codes(model, 1, 2, 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        prior.sample_codes(model, 1, 2, 2, top_k=fx.PRIOR_CODES + 1)
