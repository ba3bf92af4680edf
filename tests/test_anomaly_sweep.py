"""anomaly.sweep: the restoration setting measured on validation slices, with a tiny prior, an
untrained blind-spot model and the block-mean stand-in VQ-VAE (tests/oasis_fixtures.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import anomaly, blind_spot, prior

QUANTILES = (0.3, 0.1)


@pytest.fixture(scope="module")
def inputs():
    """Two disc slices, the first with a bright square lesion, and what the sweep needs."""
    images = fx.disc_slices()
    masks = np.zeros(images.shape[:3], bool)
    masks[0, 9:15, 9:15] = True
    images[masks] = 1.0
    vqvae, model = fx.BlockVQVAE(), fx.tiny_prior(conditional=True)  # varied draws
    codes = vqvae.encode(images)
    threshold = float(np.quantile(2.0 ** -prior.nll_map_bits(model, codes, 0.5), 0.3))
    flag_model = blind_spot.make_blind_spot_model(fx.PRIOR_CODES, codes.shape[1], hole=1)
    flags, _ = anomaly.flag_probabilities(flag_model, codes, 0.5)
    flag_thresholds = {quantile: float(np.quantile(flags, quantile)) for quantile in QUANTILES}
    return SimpleNamespace(
        images=images,
        masks=masks,
        vqvae=vqvae,
        model=model,
        threshold=threshold,
        flag_model=flag_model,
        flag_thresholds=flag_thresholds,
    )


def _models_and_slices(inputs) -> tuple:
    """The first arguments of ``restoration_sweep``: models, slices, masks, thresholds."""
    return (
        *(inputs.vqvae, inputs.model, inputs.images, inputs.masks),
        *(inputs.threshold, inputs.flag_model),
    )


@pytest.fixture(scope="module")
def sweep(inputs):
    return anomaly.restoration_sweep(
        *_models_and_slices(inputs),
        inputs.flag_thresholds,
        0.5,
        max_restorations=2,
        seed=3,
        median_size=3,
    )


def test_the_sweep_scores_the_first_r_restorations_of_every_flag_threshold(inputs, sweep):
    assert [(row["flag_quantile"], row["restorations"]) for row in sweep.rows] == [
        (0.3, 1),
        (0.3, 2),
        (0.1, 1),
        (0.1, 2),
    ]
    assert all(set(row) == set(anomaly.TRADEOFF_KEYS) for row in sweep.rows)
    for row in sweep.rows:
        quantile, count = row["flag_quantile"], row["restorations"]
        maps = sweep.maps[quantile]
        restoration = sweep.method_maps(quantile, count)["restoration"]
        assert row["auroc_pixel"] == anomaly.pixel_auroc(restoration, inputs.masks, maps.region)
        assert row["dice_best"] == anomaly.best_dice(restoration, inputs.masks, maps.region)[0]
        assert row["resampled"] == float(maps.restoration.flagged[:count].mean())
    # the map of all R restorations is the pipeline's own restoration map
    for quantile, maps in sweep.maps.items():
        assert len(maps.healed) == 2
        chosen = sweep.method_maps(quantile, 2)
        np.testing.assert_allclose(chosen["restoration"], maps.maps["restoration"], atol=1e-6)
        assert chosen["reconstruction"] is maps.maps["reconstruction"]
        assert chosen["restoration"][maps.region].any()
        # where the two healed copies differ, the map of the first one alone is another map
        copies_differ = not np.array_equal(maps.healed[0], maps.healed[1])
        first_alone = sweep.method_maps(quantile, 1)["restoration"]
        assert copies_differ == (not np.allclose(first_alone, chosen["restoration"]))
        seconds = [
            row["seconds_per_slice"] for row in sweep.rows if row["flag_quantile"] == quantile
        ]
        assert all(value > 0 for value in seconds)  # measured, not assumed
    first = sweep.maps[0.3]
    assert sweep.residual == {
        "auroc_pixel": anomaly.pixel_auroc(
            first.maps["reconstruction"], inputs.masks, first.region
        ),
        "dice_best": anomaly.best_dice(first.maps["reconstruction"], inputs.masks, first.region)[0],
    }
    assert sweep.flag_thresholds == inputs.flag_thresholds
    assert sweep.restoration_threshold == inputs.threshold and len(sweep.images) == 2
    assert sweep.settings == {
        "max_restorations": 2,
        "temperature": 1.0,
        "flag_dilation": anomaly.DEFAULT_FLAG_DILATION,
        "median_size": 3,
        "seed": 3,
    }


def test_method_maps_read_the_healed_copies_by_another_score(inputs, sweep):
    maps = sweep.maps[0.3]
    reference = anomaly.fit_score_reference(inputs.images, maps.healed, maps.region)
    scored = sweep.method_maps(0.3, 1, "difference_rarity", reference)
    expected = anomaly.scored_restoration_map(
        inputs.images, maps.healed[:1], maps.region, "difference_rarity", reference, 3
    )
    np.testing.assert_allclose(scored["restoration"], expected, atol=1e-6)
    assert not np.allclose(scored["restoration"], sweep.method_maps(0.3, 1)["restoration"])
    assert scored["likelihood"] is maps.maps["likelihood"]
    with pytest.raises(ValueError, match="score_reference"):
        sweep.method_maps(0.3, 1, "difference_rarity")


def test_the_sweep_refuses_what_it_did_not_measure(inputs, sweep):
    with pytest.raises(KeyError, match="no flag quantile 0.2"):
        sweep.method_maps(0.2, 1)
    with pytest.raises(ValueError, match=r"restorations must be in \[1, 2\]"):
        sweep.method_maps(0.3, 3)
    with pytest.raises(ValueError, match="flag_thresholds is empty"):
        anomaly.restoration_sweep(*_models_and_slices(inputs), {}, 0.5)
