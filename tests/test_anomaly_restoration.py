"""Prior-guided restoration (oasis_helpers.anomaly.restoration).

The reference, ``restore_codes``, runs on a toy conditional "prior" (a fixed transition
table over the raster predecessor); the fast restoration on the prior's sampler
(``restore_with_prior``, ``restore_with_sampler``) is checked against it on the full
network (``conditional_from_full_pass``), with tiny untrained priors over a few codes on
grids of a few positions (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import functools

import numpy as np
import oasis_fixtures as fx
import pytest
from scipy.special import softmax

from oasis_helpers import anomaly, prior

TRANSITIONS = np.array(
    [
        [0.90, 0.08, 0.01, 0.01],
        [0.50, 0.45, 0.04, 0.01],
        [0.47, 0.47, 0.05, 0.01],
        [0.05, 0.05, 0.05, 0.85],
    ]
)


START = np.array([0.60, 0.38, 0.01, 0.01])


THRESHOLD = 0.03


def _toy_conditional(codes, row, col):
    position = row * codes.shape[2] + col
    if position == 0:
        return np.tile(START, (codes.shape[0], 1))
    return TRANSITIONS[codes.reshape(codes.shape[0], -1)[:, position - 1]]


def _toy_full_pass(codes):
    flat = codes.reshape(codes.shape[0], -1)
    probabilities = np.concatenate(
        [np.tile(START, (codes.shape[0], 1, 1)), TRANSITIONS[flat[:, :-1]]], axis=1
    )
    return probabilities.reshape(*codes.shape, -1)


def _toy_grids(count: int = 6, size: int = 8, seed: int = 0) -> np.ndarray:
    """Healthy grids (codes 0/1) with a run of lesion codes 3 and a few stray 2s."""
    rng = np.random.default_rng(seed)
    grids = rng.choice(2, size=(count, size, size), p=[0.7, 0.3]).astype(np.int32)
    grids[rng.random(grids.shape) < 0.03] = 2
    grids[:, 2:4, 2:6] = 3
    return grids


def test_restoration_changes_only_flagged_codes_and_never_a_likely_one():
    grids = _toy_grids()
    result = anomaly.restore_codes(grids, _toy_conditional, THRESHOLD, seed=0)
    assert result.codes.shape == grids.shape
    assert not np.any(result.changed & ~result.flagged)  # changes only where flagged
    np.testing.assert_array_equal(result.changed, result.codes != grids)
    # every flagged position had p < threshold given the healed codes before it, every other
    # position had p >= threshold and kept its code
    np.testing.assert_array_equal(result.flagged, result.probabilities < THRESHOLD)
    healed_probabilities = anomaly.observed_code_probabilities(_toy_full_pass(result.codes), grids)
    np.testing.assert_allclose(result.probabilities, healed_probabilities)
    np.testing.assert_array_equal(result.codes[~result.flagged], grids[~result.flagged])
    # truncated draws: every healed code is likely given the healed codes before it
    after = anomaly.observed_code_probabilities(_toy_full_pass(result.codes), result.codes)
    assert after.min() >= THRESHOLD


def test_restoration_heals_the_whole_lesion_not_only_its_border():
    grids = _toy_grids()
    single_pass = anomaly.observed_code_probabilities(_toy_full_pass(grids), grids)
    lesion = grids == 3
    assert (single_pass[lesion] < THRESHOLD).mean() < 0.5  # one pass flags the border only
    result = anomaly.restore_codes(grids, _toy_conditional, THRESHOLD, seed=1)
    assert result.flagged[lesion].all() and not np.any(result.codes == 3)


def test_restoration_is_seeded_respects_the_region_and_calls_in_raster_order():
    grids = _toy_grids(count=3)
    calls = []

    def recording(codes, row, col):
        calls.append((row, col))
        return _toy_conditional(codes, row, col)

    first = anomaly.restore_codes(grids, recording, THRESHOLD, seed=5, temperature=0.7)
    assert calls == [(row, col) for row in range(8) for col in range(8)]
    again = anomaly.restore_codes(grids, _toy_conditional, THRESHOLD, seed=5, temperature=0.7)
    np.testing.assert_array_equal(first.codes, again.codes)
    region = np.zeros((8, 8), bool)
    region[:, :4] = True
    limited = anomaly.restore_codes(grids, _toy_conditional, THRESHOLD, seed=5, region=region)
    assert not limited.flagged[:, :, 4:].any()
    np.testing.assert_array_equal(limited.codes[:, :, 4:], grids[:, :, 4:])
    assert limited.changed.any()
    untouched = anomaly.restore_codes(grids, _toy_conditional, 0.0, seed=5)
    np.testing.assert_array_equal(untouched.codes, grids)


def test_repeated_restorations_stack_independent_seeded_runs():
    grids = _toy_grids(count=2)
    restore = functools.partial(anomaly.restore_codes, conditional_probabilities=_toy_conditional)
    stacked = anomaly.restore_repeatedly(grids, restore, THRESHOLD, num_restorations=3, seed=9)
    assert stacked.codes.shape == (3, *grids.shape) and stacked.flagged.shape == stacked.codes.shape
    assert not np.array_equal(stacked.codes[0], stacked.codes[1])  # different draws
    again = anomaly.restore_repeatedly(grids, restore, THRESHOLD, num_restorations=3, seed=9)
    np.testing.assert_array_equal(stacked.codes, again.codes)
    with pytest.raises(ValueError, match="num_restorations"):
        anomaly.restore_repeatedly(grids, restore, THRESHOLD, num_restorations=0, seed=9)


def test_full_pass_adapter_matches_the_conditional_with_few_passes():
    grids = _toy_grids(count=4)
    passes = []

    def counting_full_pass(codes):
        passes.append(1)
        return _toy_full_pass(codes)

    adapted = anomaly.conditional_from_full_pass(counting_full_pass)
    direct = anomaly.restore_codes(grids, _toy_conditional, THRESHOLD, seed=2)
    via_passes = anomaly.restore_codes(grids, adapted, THRESHOLD, seed=2)
    np.testing.assert_array_equal(direct.codes, via_passes.codes)
    changed_positions = direct.changed.any(axis=0).sum()
    assert len(passes) <= 1 + changed_positions < grids[0].size


def test_restoration_threshold_comes_from_validation_probabilities_only():
    rng = np.random.default_rng(0)
    validation = rng.random(10_000)
    threshold = anomaly.choose_restoration_threshold(validation, quantile=0.05)
    assert (validation < threshold).mean() == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match="exp"):
        anomaly.choose_restoration_threshold(np.log(validation + 1e-9))
    with pytest.raises(ValueError, match="quantile"):
        anomaly.choose_restoration_threshold(validation, quantile=1.0)


SHAPE = (3, 5, 6)  # N, h, w


def _codes(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, fx.PRIOR_CODES, SHAPE).astype(np.int32)


def _slice_heights(model):
    return np.array([0.1, 0.5, 0.9], np.float32) if model.conditional else None


def _full_probabilities(model, codes) -> np.ndarray:
    """``[N, h, w, K]`` softmax of one full-network pass."""
    logits = prior.prior_logits(model, codes, _slice_heights(model)).astype(np.float64)
    return softmax(logits, axis=-1)


def _threshold(model, codes, quantile: float = 0.3) -> float:
    """A threshold that flags about ``quantile`` of the observed codes of one pass."""
    observed = anomaly.observed_code_probabilities(_full_probabilities(model, codes), codes)
    return float(np.quantile(observed, quantile))


@pytest.mark.parametrize(
    ("conditional", "coordinates", "dilations", "truncate"),
    [(False, False, (1,), True), (True, True, (1,), True), (True, False, (1, 2), False)],
)
def test_fast_restoration_matches_the_full_pass_reference(
    conditional, coordinates, dilations, truncate
):
    """At a near-zero temperature both draw the most likely admissible code: same result."""
    model = fx.peaked_prior(conditional, coordinates, dilations)
    codes = _codes()
    threshold = _threshold(model, codes)
    options = {
        "slice_heights": _slice_heights(model),
        "temperature": 1e-6,
        "truncate": truncate,
        "seed": 3,
    }
    fast = anomaly.restore_with_prior(model, codes, threshold, **options)
    reference = anomaly.restore_with_prior(model, codes, threshold, fast=False, **options)
    assert fast.flagged.any() and fast.changed.any()  # the comparison is not vacuous
    np.testing.assert_array_equal(fast.flagged, reference.flagged)
    np.testing.assert_array_equal(fast.codes, reference.codes)
    np.testing.assert_allclose(fast.probabilities, reference.probabilities, atol=1e-5)
    assert fast.codes.dtype == np.int32 and fast.codes.shape == SHAPE


def test_fast_restoration_conditions_on_the_healed_codes_and_changes_only_flagged_ones():
    model = fx.peaked_prior(conditional=True)
    codes = _codes(seed=1)
    threshold = _threshold(model, codes, 0.4)
    result = anomaly.restore_with_prior(
        model, codes, threshold, seed=5, slice_heights=_slice_heights(model), temperature=1.0
    )
    assert result.flagged.any()
    assert not np.any(result.changed & ~result.flagged)
    np.testing.assert_array_equal(result.codes[~result.flagged], codes[~result.flagged])
    # the decision at each position used the prior given the healed codes before it
    healed_probabilities = _full_probabilities(model, result.codes)
    given_healed = np.take_along_axis(healed_probabilities, codes[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(result.probabilities, given_healed, atol=1e-5)
    np.testing.assert_array_equal(result.flagged, result.probabilities < threshold)
    # truncation: every replacement is likely enough given the healed context
    replaced = np.take_along_axis(healed_probabilities, result.codes[..., None], axis=-1)[..., 0]
    assert np.all(replaced[result.flagged] >= threshold - 1e-6)


def test_fast_restoration_is_seeded_and_respects_threshold_zero_and_the_region():
    model = fx.peaked_prior()
    codes = _codes(seed=2)
    threshold = _threshold(model, codes, 0.5)
    first = anomaly.restore_with_prior(model, codes, threshold, seed=7)
    again = anomaly.restore_with_prior(model, codes, threshold, seed=7)
    np.testing.assert_array_equal(first.codes, again.codes)
    others = [anomaly.restore_with_prior(model, codes, threshold, seed=s).codes for s in (8, 9)]
    assert any(not np.array_equal(first.codes, other) for other in others)

    untouched = anomaly.restore_with_prior(model, codes, 0.0, seed=7)
    np.testing.assert_array_equal(untouched.codes, codes)
    assert not untouched.flagged.any()

    region = np.zeros(SHAPE[1:], bool)
    region[2:, :3] = True
    limited = anomaly.restore_with_prior(model, codes, threshold, seed=7, region=region)
    assert limited.flagged.any()
    assert not limited.flagged[:, ~region].any()
    np.testing.assert_array_equal(limited.codes[:, ~region], codes[:, ~region])


def test_repeated_fast_restorations_stack_and_bad_inputs_are_refused():
    import functools

    model = fx.peaked_prior()
    codes = _codes(seed=3)
    threshold = _threshold(model, codes, 0.5)
    restore = functools.partial(anomaly.restore_with_prior, model)
    stacked = anomaly.restore_repeatedly(codes, restore, threshold, num_restorations=2, seed=4)
    assert stacked.codes.shape == (2, *SHAPE)
    assert not np.array_equal(stacked.codes[0], stacked.codes[1])
    sampler = prior.FastSampler(model)
    with pytest.raises(ValueError, match="threshold"):
        anomaly.restore_with_sampler(sampler, codes, 1.5)
    with pytest.raises(ValueError, match="codes"):
        anomaly.restore_with_sampler(sampler, codes + fx.PRIOR_CODES, 0.1)
    with pytest.raises(ValueError, match="region"):
        anomaly.restore_with_sampler(sampler, codes, 0.1, region=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="temperature"):
        anomaly.restore_with_sampler(sampler, codes, 0.1, temperature=0.0)


def test_compiled_with_xla_the_restoration_is_the_same():
    model = fx.peaked_prior(conditional=True, coordinates=True)
    codes = _codes(seed=4)
    threshold = _threshold(model, codes, 0.4)
    options = {"slice_heights": _slice_heights(model), "seed": 2, "temperature": 1.0}
    plain = anomaly.restore_with_sampler(prior.FastSampler(model), codes, threshold, **options)
    compiled = anomaly.restore_with_sampler(
        prior.FastSampler(model, jit_compile=True), codes, threshold, **options
    )
    assert plain.flagged.any()
    np.testing.assert_array_equal(compiled.codes, plain.codes)
    np.testing.assert_array_equal(compiled.flagged, plain.flagged)
    np.testing.assert_allclose(compiled.probabilities, plain.probabilities, atol=1e-5)
