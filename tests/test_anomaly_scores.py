"""Intensity- and texture-aware restoration scores (oasis_helpers.anomaly.scores), on
synthetic two-tissue slices: flat "white matter" beside textured "grey matter", healed by
a blur that keeps the tissue and loses the texture, as a VQ-VAE does."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest
from scipy import ndimage

from oasis_helpers import anomaly, prior

SIZE = 48
WHITE, GREY = 0.88, 0.55


def tissue_slices(count: int, seed: int) -> np.ndarray:
    """``[N, 48, 48, 1]``: left half flat white matter (sd 0.005), right half grey matter
    with blurred texture (sd 0.1), background around a 4 px frame."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIZE, SIZE), np.float32)
    for index in range(count):
        white = WHITE + 0.005 * rng.standard_normal((SIZE, SIZE))
        texture = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 1.0)
        grey = GREY + 0.1 * texture / texture.std()
        images[index] = np.where(np.arange(SIZE) < SIZE // 2, white, grey)
    images[:, :4] = images[:, -4:] = images[:, :, :4] = images[:, :, -4:] = 0.0
    return np.clip(images, 0, 1)[..., None]


def healed_of(images: np.ndarray) -> np.ndarray:
    """A stand-in restoration: the slice blurred (sigma 3), ``[1, N, H, W, 1]``."""
    return ndimage.gaussian_filter(images, (0, 3, 3, 0))[None].astype(np.float32)


def constant_disc(images: np.ndarray, value: float, centre: tuple[int, int], radius: int):
    rows, cols = np.mgrid[:SIZE, :SIZE]
    mask = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    lesioned = images.copy()
    lesioned[:, mask] = value
    return lesioned, np.broadcast_to(mask, images.shape[:3]).copy()


@pytest.fixture(scope="module")
def reference():
    healthy = tissue_slices(6, seed=1)
    region = np.zeros(healthy.shape[:3], bool)
    region[:, 6:-6, 6:-6] = True
    return anomaly.fit_score_reference(healthy, healed_of(healthy), region), region


def test_the_fitted_spread_is_small_in_flat_tissue_and_large_in_texture(reference):
    fitted, _ = reference
    assert fitted.spreads.shape == (
        len(fitted.intensity_edges) - 1,
        len(fitted.texture_edges) - 1,
    )
    assert np.all(fitted.spreads >= fitted.floor) and fitted.floor > 0
    white = np.searchsorted(fitted.intensity_edges, WHITE) - 1
    grey = np.searchsorted(fitted.intensity_edges, GREY) - 1
    assert fitted.spreads[grey].min() > 2 * fitted.spreads[white, 0]  # the flattest white
    assert set(fitted.scales) == set(anomaly.COMPONENTS)


def test_healthy_slices_score_above_one_at_about_the_quantile_rate(reference):
    fitted, region = reference
    other = tissue_slices(4, seed=2)
    for score in anomaly.SCORES:
        values = anomaly.restoration_score(other, healed_of(other), fitted, score)[region[:4]]
        assert values.shape == (region[:4].sum(),)
        components = len(anomaly.SCORES[score])
        assert 0.01 < np.mean(values > 1.0) < 0.05 * components + 0.05, score


def test_a_zscore_ranks_a_bright_constant_disc_in_flat_white_matter_above_grey_texture(
    reference,
):
    """The disc of 0.93 differs from white matter by 0.05 only: less than the healed image
    errs in textured grey matter, so the plain difference ranks it low; relative to white
    matter's own small spread it stands out."""
    fitted, region = reference
    healthy = tissue_slices(4, seed=3)
    lesioned, masks = constant_disc(healthy, 0.93, (24, 14), radius=5)
    healed = healed_of(healthy)  # the restoration heals the lesion away
    region = region[:4]
    difference = anomaly.restoration_score(lesioned, healed, fitted, "difference")
    zscore = anomaly.restoration_score(lesioned, healed, fitted, "zscore")
    plain = anomaly.pixel_auroc(anomaly.restoration_map(lesioned, healed), masks, region)
    assert anomaly.pixel_auroc(difference, masks, region) == pytest.approx(plain, abs=1e-6)
    assert plain < 0.7
    assert anomaly.pixel_auroc(zscore, masks, region) > 0.95
    local = anomaly.restoration_score(lesioned, healed, fitted, "local")
    assert anomaly.pixel_auroc(local, masks, region) > 0.8
    position = anomaly.restoration_score(lesioned, healed, fitted, "position")
    assert anomaly.pixel_auroc(position, masks, region) > plain + 0.15  # same tissue, same place
    assert fitted.position_spreads.shape == (SIZE, SIZE)
    assert fitted.position_spreads[24, 32] > 1.5 * fitted.position_spreads[24, 16]


def test_texture_absence_finds_a_constant_patch_that_the_healed_image_copies(reference):
    """A constant patch at grey matter's own mean, which the restoration copies (healed =
    the lesioned slice blurred): no intensity to find, only the missing texture."""
    fitted, region = reference
    healthy = tissue_slices(4, seed=4)
    lesioned, masks = constant_disc(healthy, GREY, (24, 34), radius=7)
    healed = healed_of(lesioned)
    region = region[:4]
    texture = anomaly.restoration_score(lesioned, healed, fitted, "texture")
    difference = anomaly.restoration_score(lesioned, healed, fitted, "difference")
    assert anomaly.pixel_auroc(texture, masks, region) > 0.8
    assert anomaly.pixel_auroc(difference, masks, region) < 0.6
    combined = anomaly.restoration_score(lesioned, healed, fitted, "zscore_texture")
    np.testing.assert_allclose(
        combined,
        np.maximum(texture, anomaly.restoration_score(lesioned, healed, fitted, "zscore")),
        rtol=1e-6,
    )


def test_rarity_finds_a_bright_lesion_that_the_healed_image_copies(reference):
    """A disc brighter than any healthy tissue, copied by the restoration: the difference
    sees nothing inside it, the rarity of its intensity among healthy pixels does."""
    fitted, region = reference
    healthy = tissue_slices(4, seed=6)
    lesioned, masks = constant_disc(healthy, 0.95, (24, 14), radius=6)
    healed = healed_of(lesioned)
    region = region[:4]
    rarity = anomaly.restoration_score(lesioned, healed, fitted, "rarity")
    difference = anomaly.restoration_score(lesioned, healed, fitted, "difference")
    assert anomaly.pixel_auroc(difference, masks, region) < 0.7
    assert anomaly.pixel_auroc(rarity, masks, region) > 0.95
    assert fitted.intensity_quantiles[0] <= GREY <= WHITE <= fitted.intensity_quantiles[-1]


def test_scores_take_several_restorations_and_reconstructions_and_check_their_input(
    reference,
):
    fitted, _ = reference
    images = tissue_slices(2, seed=5)
    one = healed_of(images)
    twice = np.concatenate([one, one])
    np.testing.assert_allclose(
        anomaly.restoration_score(images, twice, fitted),
        anomaly.restoration_score(images, one[0], fitted),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="score must be one of"):
        anomaly.restoration_score(images, one, fitted, "nonsense")
    with pytest.raises(ValueError, match="healed"):
        anomaly.restoration_score(images, one[:, :1], fitted)
    with pytest.raises(ValueError, match="region holds no pixel"):
        anomaly.fit_score_reference(images, one, np.zeros((2, SIZE, SIZE), bool))
    with pytest.raises(ValueError, match="same size"):
        anomaly.restoration_score(images[:, :40, :40], one[:, :, :40, :40], fitted, "position")
    with pytest.raises(ValueError, match="texture_bins"):
        anomaly.fit_score_reference(images, one, np.ones((2, SIZE, SIZE), bool), texture_bins=0)


def test_anomaly_maps_score_keyword_reads_the_same_healed_images():
    model = fx.peaked_prior(conditional=True)
    images = fx.disc_slices()
    vqvae = fx.BlockVQVAE()
    codes = vqvae.encode(images)
    threshold = float(np.quantile(2.0 ** -prior.nll_map_bits(model, codes, 0.5), 0.3))
    settings = {"slice_heights": 0.5, "num_restorations": 2, "seed": 1, "median_size": 3}
    plain = anomaly.anomaly_maps(vqvae, model, images, threshold, **settings)
    fitted = anomaly.fit_score_reference(images, plain.healed, plain.region)
    scored = anomaly.anomaly_maps(
        vqvae, model, images, threshold, score="zscore", score_reference=fitted, **settings
    )
    np.testing.assert_allclose(scored.healed, plain.healed)
    np.testing.assert_allclose(scored.maps["reconstruction"], plain.maps["reconstruction"])
    expected = anomaly.postprocess_map(
        anomaly.restoration_score(images, plain.healed, fitted, "zscore"), plain.region, 3
    )
    np.testing.assert_allclose(scored.maps["restoration"], expected, rtol=1e-5, atol=1e-6)
    rescored = anomaly.rescore(plain, images, "zscore", fitted, median_size=3)
    np.testing.assert_allclose(rescored.maps["restoration"], expected, rtol=1e-5, atol=1e-6)
    assert rescored.healed is plain.healed
    assert rescored.maps["likelihood"] is plain.maps["likelihood"]
    assert not np.allclose(rescored.maps["restoration"], plain.maps["restoration"])
    back = anomaly.rescore(rescored, images, "difference", None, median_size=3)
    np.testing.assert_allclose(back.maps["restoration"], plain.maps["restoration"], atol=1e-6)
    with pytest.raises(ValueError, match="score_reference"):
        anomaly.rescore(plain, images, "rarity", None)
    with pytest.raises(ValueError, match="score_reference"):
        anomaly.anomaly_maps(vqvae, model, images, threshold, score="zscore", **settings)
    with pytest.raises(ValueError, match="score must be one of"):
        anomaly.anomaly_maps(vqvae, model, images, threshold, score="z", **settings)


def test_the_default_score_is_the_kind_study_validation_pick():
    """DEFAULT_RESTORATION_SCORE is the candidate of benchmarks/lesion_kinds.py with the best
    mean restoration pixel AUROC on its mixed-kind *validation* lesions (never the test kinds)."""
    import json

    from oasis_helpers import runs

    path = runs.project_root() / "benchmarks" / "results" / "lesion_kinds_demo.json"
    summary = json.loads(path.read_text())["summary"]
    validation = {
        candidate: np.mean(entry["validation_restoration"]["auroc_pixel"])
        for candidate, entry in summary.items()
    }
    assert anomaly.DEFAULT_RESTORATION_SCORE in anomaly.SCORES
    assert max(validation, key=validation.get) == anomaly.DEFAULT_RESTORATION_SCORE
