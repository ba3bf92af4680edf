"""Tests of oasis_helpers.anomaly: synthetic lesions, maps, restoration, evaluation.

Everything runs on small NumPy phantoms (tests/oasis_fixtures.py) and a toy conditional
"prior" (a fixed transition table over the raster predecessor), in seconds.
"""

from __future__ import annotations

import functools
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import oasis_fixtures as fx  # noqa: E402

from oasis_helpers import anomaly  # noqa: E402

SIZE = 64


def _phantoms(count: int = 8, size: int = SIZE) -> np.ndarray:
    """Brain-like phantom slices, float32 [count, size, size, 1] in [0, 1]."""
    slices = [fx.phantom_slice(size, seed=seed)[0] for seed in range(count)]
    return (np.stack(slices)[..., None] / 255.0).astype(np.float32)


# ============================================================================ lesions


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lesions_per_slice": 3, "max_area_fraction": 0.1},
        {"bright_probability": 0.0, "contrast_range": (0.05, 0.1)},
        {"bright_probability": 1.0, "contrast_range": (0.9, 1.0), "softness": 2.0},
    ],
)
def test_lesion_masks_are_exactly_the_changed_pixels(options):
    images = _phantoms()
    lesioned, masks = anomaly.synthesize_lesions(images, seed=7, **options)
    assert lesioned.shape == images.shape and lesioned.dtype == np.float32
    assert masks.shape == images.shape[:3] and masks.dtype == bool
    np.testing.assert_array_equal(masks, lesioned[..., 0] != images[..., 0])
    assert masks.any(axis=(1, 2)).all()  # every slice got a lesion (lesion_fraction 1)
    assert lesioned.min() >= 0.0 and lesioned.max() <= 1.0
    # lesions lie inside the eroded brain tissue
    assert not np.any(masks & ~anomaly.brain_region(images))


def test_lesion_masks_leave_out_pixels_that_clipping_kept_unchanged():
    rows, cols = np.mgrid[:SIZE, :SIZE]
    saturated = np.where(np.hypot(rows - 32, cols - 32) < 24, 1.0, 0.0).astype(np.float32)
    saturated[:, 32:] *= 0.7  # left half already at the top of the range
    images = np.repeat(saturated[None, ..., None], 6, axis=0)
    lesioned, masks = anomaly.synthesize_lesions(
        images, seed=0, bright_probability=1.0, max_area_fraction=0.2
    )
    np.testing.assert_array_equal(masks, lesioned[..., 0] != images[..., 0])
    assert masks.any() and not masks[:, :, :32].any()  # bright on white: nothing changes


def test_lesions_are_seeded_and_vary_in_size_and_sign():
    images = _phantoms(count=24)
    first = anomaly.synthesize_lesions(images, seed=3)
    again = anomaly.synthesize_lesions(images, seed=3)
    other = anomaly.synthesize_lesions(images, seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    areas = first[1].sum(axis=(1, 2))
    brain = anomaly.brain_region(images).sum(axis=(1, 2))
    assert areas.min() < 30  # a few pixels ...
    assert areas.max() > 0.01 * brain.mean()  # ... to a percent or more of the brain
    assert np.all(areas <= 0.04 * 1.6 * brain)  # about max_area_fraction at most
    change = (first[0] - images)[..., 0]
    signs = [np.sign(change[index][first[1][index]].mean()) for index in range(len(images))]
    assert set(signs) == {-1.0, 1.0}  # bright and dark lesions


def test_lesion_fraction_leaves_clean_slices_untouched_and_one_slice_works():
    images = _phantoms(count=12)
    lesioned, masks = anomaly.synthesize_lesions(images, seed=1, lesion_fraction=0.5)
    has_lesion = masks.any(axis=(1, 2))
    assert 0 < has_lesion.sum() < len(images)
    np.testing.assert_array_equal(lesioned[~has_lesion], images[~has_lesion])
    none, no_masks = anomaly.synthesize_lesions(images, seed=1, lesion_fraction=0.0)
    np.testing.assert_array_equal(none, images)
    assert not no_masks.any()
    one, one_mask = anomaly.synthesize_lesions(images[0, ..., 0], seed=2)
    assert one.shape == (SIZE, SIZE) and one_mask.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(one_mask, one != images[0, ..., 0])
    assert one_mask.any()
    with_channel, channel_mask = anomaly.synthesize_lesions(images[0], seed=2)  # [H, W, 1]
    assert with_channel.shape == (SIZE, SIZE, 1)
    np.testing.assert_array_equal(with_channel[..., 0], one)
    np.testing.assert_array_equal(channel_mask, one_mask)


def test_lesion_synthesiser_rejects_bad_input():
    images = _phantoms(count=2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        anomaly.synthesize_lesions(images * 255.0, seed=0)
    with pytest.raises(ValueError, match="lesion_fraction"):
        anomaly.synthesize_lesions(images, seed=0, lesion_fraction=1.5)
    with pytest.raises(ValueError, match="contrast_range"):
        anomaly.synthesize_lesions(images, seed=0, contrast_range=(0.5, 0.1))
    with pytest.raises(ValueError, match="shape"):
        anomaly.synthesize_lesions(np.zeros((2, 3, 4, 5, 1)), seed=0)


# ============================================================================ maps


def test_brain_region_fills_holes_and_erodes_by_the_radius():
    rows, cols = np.mgrid[:41, :41]
    radius = np.hypot(rows - 20, cols - 20)
    image = np.where(radius <= 15, 0.8, 0.0).astype(np.float32)
    image[radius <= 4] = 0.0  # a dark "ventricle" inside the brain
    region = anomaly.brain_region(image[None, ..., None], erosion=3)[0]
    assert region[20, 20]  # the hole is filled
    assert region[20, 20 + 12] and not region[20, 20 + 13]  # 15 - 3 = 12
    np.testing.assert_array_equal(anomaly.brain_region(image, erosion=0), radius <= 15)


def test_residual_and_postprocessing_restrict_to_the_region_and_remove_specks():
    images = np.full((2, 20, 20, 1), 0.5, np.float32)
    reconstructions = images.copy()
    reconstructions[0, 10, 10] = 0.9  # a single-pixel speck: the median filter removes it
    reconstructions[1, 5:12, 5:12] = 0.1  # a 7x7 block: the median filter keeps its core
    reconstructions[:, 0, :] = 0.0  # outside the region
    residual = anomaly.residual_map(images, reconstructions, smoothing=0)
    assert residual.shape == (2, 20, 20)
    assert residual[0, 10, 10] == pytest.approx(0.4)
    region = np.zeros((2, 20, 20), bool)
    region[:, 2:18, 2:18] = True
    smoothed = anomaly.postprocess_map(residual, region, median_size=5)
    assert not smoothed[~region].any()
    assert smoothed[0].max() == 0.0
    assert smoothed[1, 8, 8] == pytest.approx(0.4)
    np.testing.assert_array_equal(
        anomaly.postprocess_map(residual, region, median_size=1)[region], residual[region]
    )


def test_upsample_grid_map_nearest_fills_blocks_and_bilinear_is_smooth():
    grid = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    nearest = anomaly.upsample_grid_map(grid, 16, method="nearest")
    assert nearest.shape == (2, 16, 16)
    np.testing.assert_array_equal(nearest[:, ::4, ::4], grid)
    np.testing.assert_array_equal(nearest[:, 3::4, 3::4], grid)
    assert nearest.sum() == pytest.approx(16 * grid.sum())
    bilinear = anomaly.upsample_grid_map(grid, (16, 16), method="bilinear")
    assert bilinear.shape == (2, 16, 16)
    assert bilinear.min() >= grid.min() and bilinear.max() <= grid.max()
    constant = anomaly.upsample_grid_map(np.full((1, 4, 4), 2.5), 16, method="bilinear")
    np.testing.assert_allclose(constant, 2.5, atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        anomaly.upsample_grid_map(grid, 10)
    with pytest.raises(ValueError, match="method"):
        anomaly.upsample_grid_map(grid, 16, method="cubic")


def test_restoration_map_is_the_weighted_mean_residual():
    images = np.zeros((1, 2, 2, 1), np.float32)
    healed = np.stack([np.full_like(images, 0.2), np.full_like(images, 0.6)])
    np.testing.assert_allclose(anomaly.restoration_map(images, healed), 0.4)
    np.testing.assert_allclose(anomaly.restoration_map(images, healed, weights=[3, 1]), 0.3)
    with pytest.raises(ValueError, match="healed_reconstructions"):
        anomaly.restoration_map(images, healed[0])


def _edge_error_and_blob(size: int = 32):
    """A flat image, a reconstruction that errs by +-0.2 in a checkerboard (like errors
    around fine anatomy) on the left, and by a constant +0.2 over a blob on the right."""
    images = np.full((1, size, size, 1), 0.5, np.float32)
    others = images.copy()
    rows, cols = np.mgrid[:size, :size]
    left = (cols < size // 2 - 4) & (rows > 4) & (rows < size - 4)
    others[0, left, 0] += np.where((rows + cols)[left] % 2 == 0, 0.2, -0.2)
    blob = (rows - size // 2) ** 2 + (cols - 3 * size // 4) ** 2 <= 25
    others[0, blob, 0] += 0.2
    return images, others, left, blob


def test_smoothing_the_signed_difference_keeps_a_blob_and_cancels_alternating_errors():
    images, others, left, blob = _edge_error_and_blob()
    plain = anomaly.residual_map(images, others, smoothing=0)[0]
    assert plain[left].mean() == pytest.approx(0.2) and plain[blob].mean() == pytest.approx(0.2)
    smoothed = anomaly.residual_map(images, others, smoothing=1.0)[0]
    assert smoothed[left].mean() < 0.05  # the checkerboard averages out
    assert smoothed[blob].min() > 0.08 and smoothed[blob].max() > 0.15  # the blob stays
    assert smoothed[blob].mean() > 4 * smoothed[left].mean()
    assert anomaly.residual_map(images, others)[0] == pytest.approx(smoothed)  # the default
    # the restoration map smooths each restoration's difference the same way
    stacked = anomaly.restoration_map(images, np.stack([others, others]), smoothing=1.0)
    np.testing.assert_allclose(stacked[0], smoothed, atol=1e-6)
    assert anomaly.restoration_map(images, others[None], smoothing=0)[0] == pytest.approx(plain)
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="smoothing"):
            anomaly.residual_map(images, others, smoothing=bad)


# ============================================================================ restoration

# A toy prior: the code at a position depends on the code before it in raster order.
# Code 3 is the "lesion": unlikely after a healthy code, likely after another 3, so a single
# likelihood pass flags only the first code of a run of 3s (its border).
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
    # by design: the chooser sees nothing but healthy validation probabilities
    parameters = list(inspect.signature(anomaly.choose_restoration_threshold).parameters)
    assert parameters == ["validation_code_probabilities", "quantile"]
    rng = np.random.default_rng(0)
    validation = rng.random(10_000)
    threshold = anomaly.choose_restoration_threshold(validation, quantile=0.05)
    assert (validation < threshold).mean() == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match="exp"):
        anomaly.choose_restoration_threshold(np.log(validation + 1e-9))
    with pytest.raises(ValueError, match="quantile"):
        anomaly.choose_restoration_threshold(validation, quantile=1.0)


# ============================================================================ evaluation


def _maps_and_masks(count: int = 6, size: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size), bool)
    for index in range(count - 2):  # the last two slices are clean
        row, col = rng.integers(2, size - 8, 2)
        masks[index, row : row + 6, col : col + 5] = True
    return rng, masks


def test_a_perfect_map_scores_one_and_a_random_map_about_one_half():
    rng, masks = _maps_and_masks()
    perfect = masks.astype(np.float32) + 0.01 * rng.random(masks.shape)
    assert anomaly.pixel_auroc(perfect, masks) == 1.0
    assert anomaly.pixel_auprc(perfect, masks) == pytest.approx(1.0)
    dice, threshold = anomaly.best_dice(perfect, masks)
    assert dice == pytest.approx(1.0)
    assert anomaly.dice_at_threshold(perfect, masks, threshold) == pytest.approx(1.0)
    random_map = rng.random(masks.shape)
    assert anomaly.pixel_auroc(random_map, masks) == pytest.approx(0.5, abs=0.05)
    assert anomaly.pixel_auprc(random_map, masks) == pytest.approx(masks.mean(), abs=0.05)
    metrics = anomaly.evaluate_map(perfect, masks, None, validation_threshold=threshold)
    assert set(metrics) == {
        "auroc_pixel",
        "auprc_pixel",
        "dice_best",
        "dice_at_validation_threshold",
        "auroc_slice",
    }
    assert set(anomaly.METRIC_KEYS) == set(metrics) | {"seconds_per_slice"}
    assert metrics["auroc_slice"] == 1.0
    assert anomaly.evaluate_map(random_map, masks, None, 0.5)["auroc_pixel"] < 0.6


def test_best_dice_matches_brute_force_with_ties_and_a_region():
    rng = np.random.default_rng(3)
    maps = rng.integers(0, 6, size=(3, 7, 7)).astype(np.float32)  # many ties
    masks = (maps + rng.normal(0, 2.0, maps.shape)) > 4
    region = rng.random(maps.shape) > 0.2
    scores, labels = maps[region], masks[region]
    brute = max(
        2 * np.sum((scores >= t) & labels) / (np.sum(scores >= t) + labels.sum())
        for t in np.unique(scores)
    )
    dice, threshold = anomaly.best_dice(maps, masks, region)
    assert dice == pytest.approx(brute)
    assert anomaly.dice_at_threshold(maps, masks, threshold, region) == pytest.approx(brute)
    # the validation threshold is the best-Dice threshold of the validation maps
    assert anomaly.choose_dice_threshold(maps, masks, region) == threshold


def test_slice_scores_and_slice_auroc():
    rng, masks = _maps_and_masks()
    maps = 0.1 * rng.random(masks.shape) + masks
    region = np.ones(masks.shape, bool)
    mean_scores = anomaly.slice_scores(maps, region, statistic="mean")
    np.testing.assert_allclose(mean_scores, maps.mean(axis=(1, 2)))
    top = anomaly.slice_scores(maps, region, statistic="percentile", percentile=99)
    has_lesion = masks.any(axis=(1, 2))
    assert anomaly.slice_auroc(top, has_lesion) == 1.0
    assert anomaly.slice_scores(maps, np.zeros_like(region))[0] == 0.0
    with pytest.raises(ValueError, match="slice AUROC"):
        anomaly.slice_auroc(top, np.ones_like(has_lesion))
    with pytest.raises(ValueError, match="pixel AUROC"):
        anomaly.pixel_auroc(maps, np.zeros_like(masks))


# ============================================================================ restoration region


def test_code_region_marks_the_blocks_that_touch_the_region():
    region = np.zeros((1, 8, 8), bool)
    region[0, 5, 2] = True  # block (2, 1) of a 4x4 grid of 2x2 blocks
    region[0, 0:2, 6:8] = True  # block (0, 3)
    expected = np.zeros((1, 4, 4), bool)
    expected[0, 2, 1] = expected[0, 0, 3] = True
    np.testing.assert_array_equal(anomaly.code_region(region, (4, 4)), expected)
    with pytest.raises(ValueError, match="multiple of the code grid"):
        anomaly.code_region(region, (3, 3))


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


def test_code_level_auroc_labels_codes_by_their_lesion_coverage():
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 0:4, 0:4] = True  # code (0, 0) of slice 0 fully covered
    masks[1, 4, 4] = True  # 1 of 16 pixels of code (1, 1) of slice 1: below the coverage
    allowed = np.ones((2, 2, 2), bool)
    scores = np.zeros((2, 2, 2))
    scores[0, 0, 0] = 1.0
    assert anomaly.code_level_auroc(scores, masks, allowed) == 1.0
    scores[1, 1, 1] = 2.0  # the barely touched code outscores the lesion code
    assert anomaly.code_level_auroc(scores, masks, allowed) == pytest.approx(6 / 7)
    from sklearn.metrics import roc_auc_score

    labels = anomaly.lesion_codes(masks, (2, 2))[allowed]  # the one definition of a lesion code
    assert anomaly.code_level_auroc(scores, masks, allowed) == roc_auc_score(
        labels, scores[allowed]
    )
    allowed[0, 0, 0] = False  # no lesion code left
    with pytest.raises(ValueError, match="both lesion and healthy codes"):
        anomaly.code_level_auroc(scores, masks, allowed)
    with pytest.raises(ValueError, match="multiple"):
        anomaly.code_level_auroc(scores, masks[:, :7, :7], np.ones((2, 2, 2), bool))


def test_lesion_codes_are_the_codes_a_lesion_covers_for_at_least_a_quarter():
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 0:2, 0:2] = True  # 4 of the 16 pixels of code (0, 0): a lesion code
    masks[0, 4, 4:7] = True  # 3 of 16 of code (1, 1): touched, not a lesion code
    masks[1, 3, 3] = True  # one pixel of code (0, 0) of slice 1: not one either
    expected = np.zeros((2, 2, 2), bool)
    expected[0, 0, 0] = True
    np.testing.assert_array_equal(anomaly.lesion_codes(masks, (2, 2)), expected)
    assert anomaly.LESION_CODE_COVERAGE == 0.25
    np.testing.assert_array_equal(
        anomaly.lesion_codes(masks, (2, 2)),
        anomaly.covered_codes(masks, (2, 2), anomaly.LESION_CODE_COVERAGE),
    )
    assert anomaly.code_region(masks, (2, 2)).sum() == 3  # what touching would have counted


def test_brain_codes_are_the_blocks_that_touch_the_uneroded_brain():
    images = np.zeros((2, 16, 16, 1), np.float32)
    images[0, 4:8, 4:8] = 0.8  # the whole block of code (1, 1)
    images[0, 8, 11] = 0.8  # one pixel of code (2, 2): it decodes brain, so a brain code
    images[1, 2:14, 2:14] = 0.8  # a square brain whose edge blocks are part background
    expected = np.zeros((2, 4, 4), bool)
    expected[0, 1, 1] = expected[0, 2, 2] = True
    expected[1] = True
    codes = anomaly.brain_codes(images, (4, 4))
    np.testing.assert_array_equal(codes, expected)
    # the erosion of the pixel evaluation does not shrink the brain codes
    assert not anomaly.code_region(anomaly.brain_region(images), (4, 4))[0].any()
    np.testing.assert_array_equal(anomaly.brain_codes(images[..., 0], (4, 4)), expected)
    with pytest.raises(ValueError, match="multiple of the code grid"):
        anomaly.brain_codes(images, (3, 3))


def test_covered_codes_marks_codes_by_their_share_of_mask_pixels():
    masks = np.zeros((1, 8, 8), bool)
    masks[0, 0:2, 0:4] = True  # half of code (0, 0)
    masks[0, 4, 4] = True  # one pixel of code (1, 1)
    np.testing.assert_array_equal(anomaly.covered_codes(masks, (2, 2))[0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(
        anomaly.covered_codes(masks, (2, 2), coverage=1 / 16),
        anomaly.code_region(masks, (2, 2)),
    )
    assert not anomaly.covered_codes(masks, (2, 2), coverage=0.6).any()
    with pytest.raises(ValueError, match="multiple"):
        anomaly.covered_codes(masks[:, :7], (2, 2))
    with pytest.raises(ValueError, match="coverage"):
        anomaly.covered_codes(masks, (2, 2), coverage=0)
