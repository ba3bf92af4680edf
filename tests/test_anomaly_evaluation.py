"""Pixel, code and slice metrics of anomaly maps (oasis_helpers.anomaly.evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import anomaly


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
