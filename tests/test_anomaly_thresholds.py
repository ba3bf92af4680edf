"""Thresholds fixed on healthy slices at a false-positive rate, and per-lesion detection
(oasis_helpers.anomaly.thresholds)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import anomaly


def _healthy(seed=0, count=4, size=32):
    rng = np.random.default_rng(seed)
    maps = rng.random((count, size, size)).astype(np.float32)
    region = np.zeros((count, size, size), bool)
    region[:, 4:-4, 4:-4] = True
    return maps, region


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.2])
def test_the_threshold_flags_the_stated_share_of_healthy_brain_pixels(fpr):
    maps, region = _healthy()
    threshold = anomaly.threshold_at_healthy_fpr(maps, region, fpr)
    flagged = float(np.mean(maps[region] >= threshold))
    assert flagged == pytest.approx(fpr, abs=1.0 / region.sum() + 1e-9)
    # pixels outside the brain do not move the threshold
    maps[~region] = 100.0
    assert anomaly.threshold_at_healthy_fpr(maps, region, fpr) == threshold


def test_threshold_rejects_a_rate_outside_zero_one_and_an_empty_region():
    maps, region = _healthy()
    for bad in (0.0, 1.0, -0.1, 5):
        with pytest.raises(ValueError, match="fpr"):
            anomaly.threshold_at_healthy_fpr(maps, region, bad)
    with pytest.raises(ValueError, match="no pixel"):
        anomaly.threshold_at_healthy_fpr(maps, np.zeros_like(region), 0.05)
    with pytest.raises(ValueError, match="shapes must match"):
        anomaly.threshold_at_healthy_fpr(maps, region[:2], 0.05)


def test_each_connected_lesion_counts_once_and_is_detected_by_half_its_pixels():
    maps = np.zeros((2, 20, 20), np.float32)
    masks = np.zeros((2, 20, 20), bool)
    masks[0, 2:6, 2:6] = True  # 16 px, 8 flagged: detected (exactly half)
    maps[0, 2:4, 2:6] = 1.0
    masks[0, 10:14, 10:14] = True  # 16 px, 7 flagged: missed
    maps[0, 10:14, 10:11] = 1.0
    maps[0, 10:13, 11] = 1.0
    masks[1, 5:8, 5:8] = True  # 9 px, all flagged: detected
    maps[1, 5:8, 5:8] = 1.0
    maps[1, 15:18, 15:18] = 1.0  # a false positive changes nothing per lesion
    assert anomaly.lesions_detected(maps, masks, 0.5) == pytest.approx(2 / 3)
    assert anomaly.lesions_detected(maps, masks, 0.5, fraction=1.0) == pytest.approx(1 / 3)
    assert anomaly.lesions_detected(maps, masks, 2.0) == 0.0
    # diagonal neighbours are one lesion (8-connectivity)
    diagonal = np.zeros((1, 5, 5), bool)
    diagonal[0, [0, 1, 2], [0, 1, 2]] = True
    assert anomaly.lesions_detected(diagonal.astype(np.float32), diagonal, 0.5) == 1.0
    assert np.isnan(anomaly.lesions_detected(maps, np.zeros_like(masks), 0.5))
    with pytest.raises(ValueError, match="fraction"):
        anomaly.lesions_detected(maps, masks, 0.5, fraction=0.0)


def test_healthy_fpr_scores_separate_a_good_map_from_noise():
    """A map that is high inside the lesions scores near-perfect Dice and detection at
    thresholds fixed on healthy maps; a map of pure noise scores low."""
    healthy_maps, healthy_region = _healthy(seed=1, count=6)
    rng = np.random.default_rng(2)
    masks = np.zeros((4, 32, 32), bool)
    masks[:, 10:16, 12:18] = True
    region = np.zeros_like(masks)
    region[:, 4:-4, 4:-4] = True
    noise = rng.random(masks.shape).astype(np.float32)
    good = noise + 2.0 * masks
    scores = anomaly.healthy_fpr_scores(good, masks, region, healthy_maps, healthy_region)
    assert set(scores) == {
        f"{kind}_at_fpr_{p}" for kind in ("threshold", "dice", "lesions_detected") for p in (1, 5)
    }
    assert scores["lesions_detected_at_fpr_5"] == 1.0
    assert scores["dice_at_fpr_1"] > 0.9 and scores["dice_at_fpr_5"] > 0.6
    assert scores["threshold_at_fpr_1"] > scores["threshold_at_fpr_5"]
    bad = anomaly.healthy_fpr_scores(noise, masks, region, healthy_maps, healthy_region)
    assert bad["lesions_detected_at_fpr_5"] == 0.0 and bad["dice_at_fpr_5"] < 0.3
