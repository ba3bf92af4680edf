"""Notebook 05's three maps of a batch and the restoration region
(oasis_helpers.anomaly.pipeline), with a tiny prior and a block-mean stand-in VQ-VAE
(tests/oasis_fixtures.py)."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest
from scipy import ndimage

from oasis_helpers import anomaly, prior


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
