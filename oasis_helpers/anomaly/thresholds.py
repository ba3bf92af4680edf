"""Thresholds a clinician could use: fixed on healthy slices at a stated false-positive rate.

``ceil(Dice)`` (:func:`oasis_helpers.anomaly.evaluation.best_dice`) picks its threshold on
the test lesions themselves, so it is an optimistic estimate of what a user gets. A user
with no lesions to tune on can still fix a threshold on *healthy* slices: the score that
a stated share ``alpha`` of healthy brain pixels exceeds,

    t(alpha) = quantile_{1 - alpha}( map(x)  for x in the healthy brain pixels ),

so that, on slices like the healthy ones, about ``alpha`` of the brain is flagged
wrongly (:func:`threshold_at_healthy_fpr`). At that threshold a lesion map is judged by
the pooled Dice (:func:`~oasis_helpers.anomaly.evaluation.dice_at_threshold`) and by
per-lesion detection (:func:`lesions_detected`): the share of lesions (connected
components of the masks, 8-connected within a slice) with at least half their pixels at
or above the threshold. :func:`healthy_fpr_scores` gathers them with the keys of notebook
05's ``metrics.json`` (``dice_at_fpr_1``, ``dice_at_fpr_5``, ``lesions_detected_at_fpr_5``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.anomaly.evaluation import dice_at_threshold
from oasis_helpers.anomaly.inputs import as_map_batch, check_same_shape

__all__ = [
    "DETECTED_FRACTION",
    "HEALTHY_FPRS",
    "healthy_fpr_scores",
    "lesions_detected",
    "threshold_at_healthy_fpr",
]

#: The false-positive rates of healthy brain pixels the thresholds are fixed at (1 %, 5 %).
HEALTHY_FPRS = (0.01, 0.05)
#: A lesion counts as detected when at least this share of its pixels is flagged.
DETECTED_FRACTION = 0.5


def threshold_at_healthy_fpr(
    healthy_maps: npt.ArrayLike, healthy_region: npt.ArrayLike, fpr: float
) -> float:
    """The score that a share ``fpr`` of healthy brain pixels reaches or exceeds.

    Args:
        healthy_maps: float ``[N, H, W]`` post-processed maps of healthy slices (no lesion).
        healthy_region: bool ``[N, H, W]`` their brain pixels.
        fpr: the false-positive rate wanted, in ``(0, 1)``.

    Returns:
        ``t`` with ``mean(map >= t) ~ fpr`` over the healthy brain pixels (the
        ``1 - fpr`` quantile, interpolated upward so that ties never flag more).
    """
    if not 0.0 < float(fpr) < 1.0:
        raise ValueError(f"fpr must lie in (0, 1), got {fpr}")
    maps = as_map_batch(healthy_maps, "healthy_maps")
    region = as_map_batch(healthy_region, "healthy_region").astype(bool)
    check_same_shape(healthy_maps=maps, healthy_region=region)
    values = maps[region]
    if values.size == 0:
        raise ValueError("healthy_region holds no pixel: no threshold can be fixed on it")
    return float(np.quantile(values.astype(np.float64), 1.0 - float(fpr), method="higher"))


def lesions_detected(
    maps: npt.ArrayLike,
    masks: npt.ArrayLike,
    threshold: float,
    fraction: float = DETECTED_FRACTION,
) -> float:
    """The share of lesions with at least ``fraction`` of their pixels at ``map >= threshold``.

    A lesion is a connected component (8-connected) of one slice's mask, so a slice with
    two separate lesions counts two.

    Args:
        maps: float ``[N, H, W]`` anomaly maps.
        masks: bool ``[N, H, W]`` true lesions.
        threshold: the map's threshold.
        fraction: the share of a lesion's pixels that must be flagged, in ``(0, 1]``.

    Returns:
        The detected share in ``[0, 1]``; NaN when the masks hold no lesion.
    """
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    maps = as_map_batch(maps, "maps")
    masks = as_map_batch(masks, "masks").astype(bool)
    check_same_shape(maps=maps, masks=masks)
    detected = total = 0
    for slice_map, mask in zip(maps, masks, strict=True):
        labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
        if count == 0:
            continue
        index = np.arange(1, count + 1)
        flagged = ndimage.mean(slice_map >= threshold, labels, index)
        detected += int(np.count_nonzero(np.asarray(flagged) >= fraction))
        total += count
    return float(detected / total) if total else float("nan")


def _percent(fpr: float) -> str:
    return f"{100 * fpr:g}".replace(".", "_")


def healthy_fpr_scores(
    maps: npt.ArrayLike,
    masks: npt.ArrayLike,
    region: npt.ArrayLike | None,
    healthy_maps: npt.ArrayLike,
    healthy_region: npt.ArrayLike,
    fprs: tuple[float, ...] = HEALTHY_FPRS,
) -> dict[str, float]:
    """Dice and lesion detection at thresholds fixed on healthy slices, one pair per FPR.

    Args:
        maps, masks, region: the evaluated slices' maps ``[N, H, W]``, lesions and brain.
        healthy_maps, healthy_region: healthy slices' maps ``[M, H, W]`` and brain, never
            the evaluated slices.
        fprs: the false-positive rates, e.g. ``(0.01, 0.05)``.

    Returns:
        For each rate in percent ``p``: ``threshold_at_fpr_p``, ``dice_at_fpr_p`` and
        ``lesions_detected_at_fpr_p`` (e.g. ``dice_at_fpr_5``).
    """
    scores: dict[str, float] = {}
    for fpr in fprs:
        threshold = threshold_at_healthy_fpr(healthy_maps, healthy_region, fpr)
        percent = _percent(fpr)
        scores[f"threshold_at_fpr_{percent}"] = threshold
        scores[f"dice_at_fpr_{percent}"] = dice_at_threshold(maps, masks, threshold, region)
        scores[f"lesions_detected_at_fpr_{percent}"] = lesions_detected(maps, masks, threshold)
    return scores
