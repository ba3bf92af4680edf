"""Prior-guided restoration with the fast sampler's caches (``anomaly.restore_with_sampler``).

The reference is ``anomaly.restore_codes`` on the full network
(``anomaly.conditional_from_full_pass``); tiny untrained priors over a few codes on grids
of a few positions keep the file fast.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import ndimage
from scipy.special import softmax

from oasis_helpers import anomaly, prior

NUM_CODES = 7
SHAPE = (3, 5, 6)  # N, h, w


def _tiny(conditional: bool = False, coordinates: bool = True, dilations=(1,), seed: int = 1):
    """An untrained prior whose output layer is scaled up, so that its distributions are
    peaked like a trained one's (an untrained head gives nearly uniform ones, whose
    near-ties would make a comparison of draws hinge on rounding)."""
    keras.utils.set_random_seed(seed)
    model = prior.GatedPixelCNN(
        num_embeddings=NUM_CODES,
        hidden_channels=8,
        num_layers=3,
        kernel_size=3,
        head_channels=8,
        conditional=conditional,
        coordinates=coordinates,
        dilations=dilations,
    )
    model.head_logits.kernel.assign(model.head_logits.kernel * 100.0)
    return model


def _codes(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, NUM_CODES, SHAPE).astype(np.int32)


def _positions(model):
    return np.array([0.1, 0.5, 0.9], np.float32) if model.conditional else None


def _full_probabilities(model, codes) -> np.ndarray:
    """``[N, h, w, K]`` softmax of one full-network pass."""
    logits = prior.prior_logits(model, codes, _positions(model)).astype(np.float64)
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
    model = _tiny(conditional, coordinates, dilations)
    codes = _codes()
    threshold = _threshold(model, codes)
    options = {
        "positions": _positions(model),
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
    model = _tiny(conditional=True)
    codes = _codes(seed=1)
    threshold = _threshold(model, codes, 0.4)
    result = anomaly.restore_with_prior(
        model, codes, threshold, seed=5, positions=_positions(model), temperature=1.0
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
    model = _tiny()
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

    model = _tiny()
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
        anomaly.restore_with_sampler(sampler, codes + NUM_CODES, 0.1)
    with pytest.raises(ValueError, match="region"):
        anomaly.restore_with_sampler(sampler, codes, 0.1, region=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="temperature"):
        anomaly.restore_with_sampler(sampler, codes, 0.1, temperature=0.0)


class _BlockVQVAE:
    """A stand-in VQ-VAE: each 4x4 block's mean intensity quantised to one of K levels."""

    factor = 4

    def encode(self, images):
        images = np.asarray(images, np.float32)[..., 0]
        count, height, width = images.shape
        blocks = images.reshape(count, height // 4, 4, width // 4, 4).mean(axis=(2, 4))
        return np.minimum((blocks * NUM_CODES).astype(np.int32), NUM_CODES - 1)

    def decode(self, codes):
        levels = (np.asarray(codes, np.float32) + 0.5) / NUM_CODES
        return np.repeat(np.repeat(levels, 4, axis=1), 4, axis=2)[..., None]

    def reconstruct(self, images):
        return self.decode(self.encode(images))


def _disc_slices(seed: int = 0) -> np.ndarray:
    """Two 24x24 slices ``[2, 24, 24, 1]``: a disc of random intensities on black."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:24, :24]
    brain = (np.hypot(rows - 12, cols - 12) < 9).astype(np.float32)
    return (brain * rng.uniform(0.3, 0.9, (2, 24, 24)))[..., None].astype(np.float32)


def test_anomaly_maps_give_three_post_processed_maps_and_confined_restorations():
    model = _tiny(conditional=True)
    images = _disc_slices()
    vqvae = _BlockVQVAE()
    codes = vqvae.encode(images)
    threshold = float(np.quantile(2.0 ** -prior.nll_map_bits(model, codes, 0.5), 0.3))
    result = anomaly.anomaly_maps(
        vqvae, model, images, threshold, positions=0.5, num_restorations=2, seed=1, median_size=3
    )
    assert set(result.maps) == set(anomaly.METHODS) == set(result.seconds)
    for method, values in result.maps.items():
        assert values.shape == (2, 24, 24) and values.dtype == np.float32, method
        assert not values[~result.region].any(), method  # zero outside the brain
    np.testing.assert_array_equal(result.codes, codes)
    assert result.restoration.codes.shape == result.restoration.flagged.shape == (2, 2, 6, 6)
    assert result.healed.shape == (2, 2, 24, 24, 1)
    # only codes near what one pass flags, inside the brain, may change
    changeable = anomaly.restoration_region(
        2.0**-result.nll_bits,
        threshold,
        anomaly.brain_codes(images, (6, 6)),
    )
    assert not result.restoration.flagged[:, ~changeable].any()
    np.testing.assert_array_equal(
        result.restoration.codes[:, ~changeable], codes[None].repeat(2, 0)[:, ~changeable]
    )
    direct = anomaly.postprocess_map(
        anomaly.restoration_map(images, result.healed), result.region, median_size=3
    )
    np.testing.assert_allclose(result.maps["restoration"], direct)
    # the likelihood map is the box mean of the NLL grid over 3x3 codes, upsampled
    expected = anomaly.postprocess_map(
        anomaly.upsample_grid_map(
            ndimage.uniform_filter(result.nll_bits, (1, 3, 3)), (24, 24), "bilinear"
        ),
        result.region,
        median_size=3,
    )
    np.testing.assert_allclose(result.maps["likelihood"], expected, rtol=1e-5, atol=1e-6)
    unsmoothed = anomaly.anomaly_maps(
        vqvae, model, images, threshold, 0.5, num_restorations=1, median_size=3,
        likelihood_smoothing=1,
    )  # fmt: skip
    assert not np.allclose(unsmoothed.maps["likelihood"], result.maps["likelihood"])
    # difference_smoothing reaches both difference maps
    plain = anomaly.anomaly_maps(
        vqvae, model, images, threshold, 0.5, num_restorations=2, median_size=3,
        difference_smoothing=0,
    )  # fmt: skip
    np.testing.assert_allclose(
        plain.maps["reconstruction"],
        anomaly.postprocess_map(
            anomaly.residual_map(images, plain.reconstructions, smoothing=0), plain.region, 3
        ),
    )
    np.testing.assert_allclose(
        plain.maps["restoration"],
        anomaly.postprocess_map(
            anomaly.restoration_map(images, plain.healed, smoothing=0), plain.region, 3
        ),
    )
    assert not np.allclose(plain.maps["reconstruction"], result.maps["reconstruction"])
    with pytest.raises(ValueError, match="likelihood_smoothing"):
        anomaly.anomaly_maps(vqvae, model, images, threshold, 0.5, likelihood_smoothing=0)


def test_compiled_with_xla_the_restoration_is_the_same():
    model = _tiny(conditional=True, coordinates=True)
    codes = _codes(seed=4)
    threshold = _threshold(model, codes, 0.4)
    options = {"positions": _positions(model), "seed": 2, "temperature": 1.0}
    plain = anomaly.restore_with_sampler(prior.FastSampler(model), codes, threshold, **options)
    compiled = anomaly.restore_with_sampler(
        prior.FastSampler(model, jit_compile=True), codes, threshold, **options
    )
    assert plain.flagged.any()
    np.testing.assert_array_equal(compiled.codes, plain.codes)
    np.testing.assert_array_equal(compiled.flagged, plain.flagged)
    np.testing.assert_allclose(compiled.probabilities, plain.probabilities, atol=1e-5)
