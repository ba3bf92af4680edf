"""Notebook 05's three maps of a batch, the blind-spot model's flags and the restoration
region (oasis_helpers.anomaly.pipeline), with a tiny prior, an untrained blind-spot model
and a block-mean stand-in VQ-VAE (tests/oasis_fixtures.py)."""

from __future__ import annotations

import keras
import numpy as np
import oasis_fixtures as fx
import pytest
from scipy import ndimage

from oasis_helpers import anomaly, blind_spot, prior


def test_restoration_region_is_the_dilated_flags_inside_the_allowed_codes():
    probabilities = np.full((2, 7, 7), 0.5)
    probabilities[0, 3, 3] = 0.001  # flagged
    probabilities[1, 0, 0] = 0.001  # flagged, but outside the allowed codes
    allowed = np.ones((2, 7, 7), bool)
    allowed[:, :, 5:] = False
    allowed[1, 0, 0] = False
    region = anomaly.restoration_region(probabilities, 0.01, allowed, dilation=1)
    expected = np.zeros((2, 7, 7), bool)
    expected[0, 2:5, 2:5] = True
    np.testing.assert_array_equal(region, expected)
    exact = anomaly.restoration_region(probabilities, 0.01, allowed, dilation=0)
    np.testing.assert_array_equal(exact, (probabilities < 0.01) & allowed)
    wider = anomaly.restoration_region(probabilities, 0.01, allowed, dilation=2)
    assert wider[0, 1:6, 1:5].all() and not wider[0, :, 5:].any()
    np.testing.assert_array_equal(
        anomaly.restoration_region(probabilities, 0.01, allowed, dilation=None), allowed
    )
    with pytest.raises(ValueError, match="dilation"):
        anomaly.restoration_region(probabilities, 0.01, allowed, dilation=-1)


def test_a_filled_region_takes_the_interior_of_a_flagged_ring_and_nothing_else():
    """A lesion wider than the hole is flagged at its rim only; the fill heals its inside."""
    probabilities = np.full((2, 9, 9), 0.5)
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7] = True
    ring[3:6, 3:6] = False
    probabilities[0][ring] = 0.001
    probabilities[1, 0:3, 0] = 0.001  # an open line encloses nothing
    plain = anomaly.restoration_region(probabilities, 0.01, dilation=0)
    filled = anomaly.restoration_region(probabilities, 0.01, dilation=0, fill_holes=True)
    np.testing.assert_array_equal(plain[0], ring)
    expected = np.zeros((9, 9), bool)
    expected[2:7, 2:7] = True
    np.testing.assert_array_equal(filled[0], expected)
    np.testing.assert_array_equal(filled[1], plain[1])
    outside = np.ones((2, 9, 9), bool)
    outside[0, 4, 4] = False  # the fill stays inside the allowed codes
    assert not anomaly.restoration_region(
        probabilities, 0.01, outside, dilation=0, fill_holes=True
    )[0, 4, 4]


def test_anomaly_maps_give_three_post_processed_maps_and_confined_restorations():
    model = fx.peaked_prior(conditional=True)
    images = fx.disc_slices()
    vqvae = fx.BlockVQVAE()
    codes = vqvae.encode(images)
    threshold = float(np.quantile(2.0 ** -prior.nll_map_bits(model, codes, 0.5), 0.3))
    result = anomaly.anomaly_maps(
        vqvae,
        model,
        images,
        threshold,
        slice_heights=0.5,
        num_restorations=2,
        seed=1,
        median_size=3,
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


def test_flag_probabilities_are_the_geometric_mean_over_the_box():
    keras.utils.set_random_seed(3)
    model = blind_spot.make_blind_spot_model(num_embeddings=5, grid_size=8, hole=1)
    codes = np.random.default_rng(1).integers(0, 5, (2, 8, 8)).astype(np.int32)
    probabilities, bits = anomaly.flag_probabilities(model, codes, 0.5, smoothing=3)
    np.testing.assert_allclose(bits, blind_spot.surprise_bits(model, codes, 0.5), rtol=1e-6)
    expected = 2.0 ** -ndimage.uniform_filter(bits, (1, 3, 3))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    plain, _ = anomaly.flag_probabilities(model, codes, 0.5, smoothing=1)
    np.testing.assert_allclose(plain, 2.0**-bits, rtol=1e-5)
    with pytest.raises(ValueError, match="smoothing"):
        anomaly.flag_probabilities(model, codes, 0.5, smoothing=0)


@pytest.mark.parametrize("conditional", [True, False], ids=["conditional", "unconditional"])
def test_with_a_flag_model_restoration_changes_only_codes_near_its_flags(conditional):
    """The blind-spot model always takes the slices' heights; a prior that is not
    conditional on them ignores the same heights, so one call serves both priors."""
    prior_model = fx.peaked_prior(conditional=conditional)
    keras.utils.set_random_seed(4)
    flag_model = blind_spot.make_blind_spot_model(
        num_embeddings=fx.PRIOR_CODES, grid_size=6, hole=1
    )
    images = fx.disc_slices()
    vqvae = fx.BlockVQVAE()
    codes = vqvae.encode(images)
    flags, _ = anomaly.flag_probabilities(flag_model, codes, 0.5)
    flag_threshold = float(np.quantile(flags, 0.2))
    result = anomaly.anomaly_maps(
        vqvae, prior_model, images, 1.0, slice_heights=0.5, num_restorations=2, seed=1,
        median_size=3, flag_model=flag_model, flag_threshold=flag_threshold,
    )  # fmt: skip
    np.testing.assert_allclose(
        result.flag_bits, anomaly.flag_probabilities(flag_model, codes, 0.5)[1], rtol=1e-6
    )
    changeable = anomaly.restoration_region(
        flags, flag_threshold, anomaly.brain_codes(images, (6, 6))
    )
    assert changeable.any() and not changeable.all()
    # threshold 1 resamples (nearly) every code of the region, and nothing outside it
    assert result.restoration.flagged[:, changeable].mean() > 0.5
    assert not result.restoration.flagged[:, ~changeable].any()
    assert not result.restoration.changed[:, ~changeable].any()
    # flag, heal, flag again: the region can only grow, and stays inside the brain codes
    again = anomaly.anomaly_maps(
        vqvae, prior_model, images, 1.0, slice_heights=0.5, num_restorations=2, seed=1,
        median_size=3, flag_model=flag_model, flag_threshold=flag_threshold, reflag_rounds=2,
    )  # fmt: skip
    brain = anomaly.brain_codes(images, (6, 6))
    assert not again.restoration.flagged[:, ~brain].any()
    assert (
        again.restoration.flagged.any(axis=0).sum()
        >= (result.restoration.flagged.any(axis=0) & changeable).sum() * 0.5
    )
    for bad, match in ((-1, "reflag_rounds"), (1.5, "reflag_rounds")):
        with pytest.raises(ValueError, match=match):
            anomaly.anomaly_maps(
                vqvae, prior_model, images, 0.5, 0.5, flag_model=flag_model,
                flag_threshold=flag_threshold, reflag_rounds=bad,
            )  # fmt: skip
    with pytest.raises(ValueError, match="flag_model"):
        anomaly.anomaly_maps(vqvae, prior_model, images, 0.5, 0.5, reflag_rounds=1)
    without = anomaly.anomaly_maps(
        vqvae, prior_model, images, 0.5, slice_heights=0.5, num_restorations=1, median_size=3
    )
    assert without.flag_bits is None
    with pytest.raises(ValueError, match="together"):
        anomaly.anomaly_maps(vqvae, prior_model, images, 0.5, 0.5, flag_model=flag_model)
