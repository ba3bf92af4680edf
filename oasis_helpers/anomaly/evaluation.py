"""How well an anomaly map finds the lesions: pixel, code and slice metrics (scikit-learn).

Over the pixels of an evaluation region (usually the brain): pixel AUROC / AUPRC
(:func:`pixel_auroc`, :func:`pixel_auprc`), the best Dice over all thresholds
``ceil(Dice) = max_t 2 TP(t) / (|P(t)| + |L|)`` (:func:`best_dice`, from
``precision_recall_curve``: Dice is the F1 score ``2 p r / (p + r)``), the Dice at a
given threshold (:func:`dice_at_threshold`), a threshold chosen on validation slices
(:func:`choose_dice_threshold`), slice scores (:func:`slice_scores`) and slice-level
AUROC (:func:`slice_auroc`); :func:`evaluate_map` gathers them with the keys of notebook
05's ``metrics.json`` (:data:`METRIC_KEYS`). Dice is pooled over all evaluated pixels of
all slices (one confusion matrix), as in Baur et al. 2021. On the code grid,
:func:`code_level_auroc` measures how well a per-code score finds the lesion codes
(:func:`oasis_helpers.anomaly.code_regions.lesion_codes`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oasis_helpers.anomaly.code_regions import lesion_codes
from oasis_helpers.anomaly.inputs import as_map_batch, check_same_shape

__all__ = [
    "METRIC_KEYS",
    "best_dice",
    "choose_dice_threshold",
    "code_level_auroc",
    "dice_at_threshold",
    "evaluate_map",
    "pixel_auprc",
    "pixel_auroc",
    "slice_auroc",
    "slice_scores",
]

#: The keys of each method's entry in notebook 05's ``metrics.json`` (the first five from
#: :func:`evaluate_map`, then the method's measured cost).
METRIC_KEYS = (
    "auroc_pixel",
    "auprc_pixel",
    "dice_best",
    "dice_at_validation_threshold",
    "auroc_slice",
    "seconds_per_slice",
)


def _region_values(maps, masks, region) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of the evaluated pixels (all pixels when ``region`` is None)."""
    maps = as_map_batch(maps, "maps")
    masks = as_map_batch(masks, "masks").astype(bool)
    check_same_shape(maps=maps, masks=masks)
    if region is None:
        return maps.ravel().astype(np.float64), masks.ravel()
    region = as_map_batch(region, "region").astype(bool)
    check_same_shape(maps=maps, region=region)
    return maps[region].astype(np.float64), masks[region]


def _need_both_classes(labels: np.ndarray, what: str) -> None:
    positives = int(labels.sum())
    if positives == 0 or positives == labels.size:
        raise ValueError(
            f"{what} needs both lesion and healthy {what.split()[0]}s in the evaluated set, "
            f"got {positives} lesion of {labels.size}"
        )


def pixel_auroc(
    maps: npt.ArrayLike, masks: npt.ArrayLike, region: npt.ArrayLike | None = None
) -> float:
    """Area under the ROC curve of the map's pixel scores against the lesion masks.

    Args:
        maps: float ``[N, H, W]`` anomaly maps (higher = more anomalous).
        masks: bool ``[N, H, W]`` true lesions.
        region: optional bool ``[N, H, W]``: evaluate only these pixels (the brain).
    """
    from sklearn.metrics import roc_auc_score

    scores, labels = _region_values(maps, masks, region)
    _need_both_classes(labels, "pixel AUROC")
    return float(roc_auc_score(labels, scores))


def pixel_auprc(
    maps: npt.ArrayLike, masks: npt.ArrayLike, region: npt.ArrayLike | None = None
) -> float:
    """Area under the precision-recall curve (average precision) of pixel scores."""
    from sklearn.metrics import average_precision_score

    scores, labels = _region_values(maps, masks, region)
    _need_both_classes(labels, "pixel AUPRC")
    return float(average_precision_score(labels, scores))


def best_dice(
    maps: npt.ArrayLike, masks: npt.ArrayLike, region: npt.ArrayLike | None = None
) -> tuple[float, float]:
    """The best achievable Dice over all thresholds, ``ceil(Dice)``, and its threshold.

    A pixel is predicted a lesion when ``map >= t``. Over the pooled pixels,
    ``Dice(t) = 2 TP(t) / (|pred(t)| + |lesion|)`` equals the F1 score
    ``2 p r / (p + r)`` of precision ``p`` and recall ``r``; scikit-learn's
    ``precision_recall_curve`` gives them at every distinct score from one sort, so no
    threshold is looped over in Python.

    Returns:
        ``(dice, threshold)``.
    """
    from sklearn.metrics import precision_recall_curve

    scores, labels = _region_values(maps, masks, region)
    _need_both_classes(labels, "pixel Dice")
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (r = 0) has no threshold
    sums = precision + recall
    dice = np.where(sums > 0, 2 * precision * recall / np.where(sums > 0, sums, 1.0), 0.0)
    best = int(np.argmax(dice))
    return float(dice[best]), float(thresholds[best])


def dice_at_threshold(
    maps: npt.ArrayLike, masks: npt.ArrayLike, threshold: float, region: npt.ArrayLike | None = None
) -> float:
    """Pooled Dice ``2 |pred & lesion| / (|pred| + |lesion|)`` with ``pred = map >= threshold``.

    Returns 1.0 when both the prediction and the lesion masks are empty.
    """
    scores, labels = _region_values(maps, masks, region)
    predicted = scores >= threshold
    denominator = int(predicted.sum()) + int(labels.sum())
    if denominator == 0:
        return 1.0
    return float(2 * np.count_nonzero(predicted & labels) / denominator)


def choose_dice_threshold(
    validation_maps: npt.ArrayLike,
    validation_masks: npt.ArrayLike,
    validation_region: npt.ArrayLike | None = None,
) -> float:
    """The map threshold that maximises the pooled Dice on validation slices.

    Validation slices carry synthetic lesions (never the evaluated slices); apply the
    threshold to the test maps with :func:`dice_at_threshold`.
    """
    return best_dice(validation_maps, validation_masks, validation_region)[1]


def code_level_auroc(
    code_scores: npt.ArrayLike, masks: npt.ArrayLike, allowed: npt.ArrayLike
) -> float:
    """How well a per-code score tells lesion codes from the other allowed codes.

    The positives are the :func:`lesion_codes` (at least a quarter covered by the mask),
    the negatives the other codes where ``allowed`` (usually :func:`brain_codes`); the
    AUROC is ``sklearn.metrics.roc_auc_score``. This is what decides a restoration: it can
    heal only the codes that its flags find.

    Args:
        code_scores: float ``[N, h, w]``, higher = more anomalous (e.g. surprise in bits).
        masks: bool ``[N, H, W]`` with ``H = f h``; allowed: bool ``[N, h, w]``.
    """
    from sklearn.metrics import roc_auc_score

    scores, masks = np.asarray(code_scores), np.asarray(masks, bool)
    allowed = np.asarray(allowed, bool)
    if scores.ndim != 3 or allowed.shape != scores.shape or masks.ndim != 3:
        raise ValueError(
            f"need code_scores and allowed [N, h, w] and masks [N, H, W], got {scores.shape}, "
            f"{allowed.shape} and {masks.shape}"
        )
    if len(masks) != len(scores):
        raise ValueError(f"masks {masks.shape} and code_scores {scores.shape} differ in N")
    labels = lesion_codes(masks, scores.shape[1:])[allowed]
    _need_both_classes(labels, "code AUROC")
    return float(roc_auc_score(labels, scores[allowed]))


def slice_scores(
    maps: npt.ArrayLike,
    region: npt.ArrayLike | None = None,
    statistic: str = "percentile",
    percentile: float = 99.0,
) -> npt.NDArray[np.float64]:
    """One anomaly score per slice from its map, inside ``region``.

    * ``"mean"``: mean of the map over the region's pixels;
    * ``"percentile"``: the ``percentile``-th percentile of those pixels (a top-``1%``
      score by default: a small lesion barely moves the mean).

    Slices with an empty region score 0.

    Returns:
        float64 ``[N]``.
    """
    maps = as_map_batch(maps, "maps").astype(np.float64)
    if region is None:
        region = np.ones(maps.shape, bool)
    region = as_map_batch(region, "region").astype(bool)
    check_same_shape(maps=maps, region=region)
    if statistic not in ("mean", "percentile"):
        raise ValueError(f"statistic must be 'mean' or 'percentile', got {statistic!r}")
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    scores = np.zeros(maps.shape[0])
    for index, (values, inside) in enumerate(zip(maps, region, strict=True)):
        if not inside.any():
            continue
        pixels = values[inside]
        scores[index] = pixels.mean() if statistic == "mean" else np.percentile(pixels, percentile)
    return scores


def slice_auroc(scores: npt.ArrayLike, has_lesion: npt.ArrayLike) -> float:
    """AUROC of slice scores ``[N]`` for slices with a lesion (True) against clean slices."""
    from sklearn.metrics import roc_auc_score

    scores, has_lesion = np.asarray(scores, np.float64), np.asarray(has_lesion, bool)
    check_same_shape(scores=scores, has_lesion=has_lesion)
    _need_both_classes(has_lesion, "slice AUROC")
    return float(roc_auc_score(has_lesion, scores))


def evaluate_map(
    maps: npt.ArrayLike,
    masks: npt.ArrayLike,
    region: npt.ArrayLike | None,
    validation_threshold: float,
    statistic: str = "percentile",
    percentile: float = 99.0,
) -> dict[str, float]:
    """All metrics of one method, with the keys of notebook 05's ``metrics.json``.

    Args:
        maps: float ``[N, H, W]`` post-processed anomaly maps of the evaluated slices.
        masks: bool ``[N, H, W]`` their true lesions (clean slices: all False).
        region: bool ``[N, H, W]`` evaluated pixels (the brain), or None for all.
        validation_threshold: from :func:`choose_dice_threshold` on validation slices.

    Returns:
        ``auroc_pixel``, ``auprc_pixel``, ``dice_best``, ``dice_at_validation_threshold``
        and ``auroc_slice`` (NaN when all slices, or none, have a lesion).
    """
    masks = as_map_batch(masks, "masks").astype(bool)
    has_lesion = masks.any(axis=(1, 2))
    if has_lesion.all() or not has_lesion.any():
        auroc_slice = float("nan")
    else:
        auroc_slice = slice_auroc(slice_scores(maps, region, statistic, percentile), has_lesion)
    return {
        "auroc_pixel": pixel_auroc(maps, masks, region),
        "auprc_pixel": pixel_auprc(maps, masks, region),
        "dice_best": best_dice(maps, masks, region)[0],
        "dice_at_validation_threshold": dice_at_threshold(
            maps, masks, validation_threshold, region
        ),
        "auroc_slice": auroc_slice,
    }
