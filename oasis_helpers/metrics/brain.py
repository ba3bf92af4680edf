"""SSIM and PSNR inside the brain: the brain mask, its bounding boxes, and the brain variants.

:func:`brain_mask` is the target above :data:`BRAIN_THRESHOLD`, dilated by
:data:`BRAIN_MASK_DILATION` pixels; :func:`brain_psnr_per_slice` is PSNR over the mask's
pixels and :func:`brain_ssim_per_slice` SSIM on the mask's bounding box
(:func:`brain_bounding_boxes`); NaN for slices without brain.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.metrics.image_quality import (
    SSIM_FILTER_SIZE,
    image_batch,
    image_pair,
    structural_similarity,
)

__all__ = [
    "BRAIN_MASK_DILATION",
    "BRAIN_THRESHOLD",
    "brain_bounding_boxes",
    "brain_mask",
    "brain_psnr_per_slice",
    "brain_ssim_per_slice",
]


#: Pixels of the target brighter than this (in units of ``max_val``) are brain.
BRAIN_THRESHOLD = 0.02

#: Pixels by which :func:`brain_mask` grows the thresholded brain (a ``5 x 5`` max-pool).
BRAIN_MASK_DILATION = 2


def brain_mask(
    targets: npt.ArrayLike,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
    max_val: float = 1.0,
) -> npt.NDArray[np.bool_]:
    """The brain of the reconstruction scores, bool ``[N, H, W]``: ``target > threshold *
    max_val``, dilated.

    Used by the brain PSNR and SSIM (:func:`brain_psnr_per_slice`,
    :func:`brain_ssim_per_slice`, so notebook 03's :func:`evaluate_reconstructions`).
    Dilated because a reconstruction is scored on the whole brain *and its edge*: a decoder
    that blurs or shrinks the outline loses there, and the dark sulci next to the
    threshold count too. Not :func:`oasis_helpers.anomaly.brain_region`, the brain of the
    anomaly maps, which is eroded instead: there the edge is where every model errs, and
    it is not a lesion.

    Args:
        targets: ``[N, H, W, C]`` or ``[H, W, C]`` (the mask uses the first channel).
        threshold: fraction of ``max_val`` above which a pixel is brain.
        dilation: grow the mask by this many pixels (a ``(2d+1)^2`` max-pool);
            0 keeps the thresholded mask.
    """
    targets = image_batch(targets, "targets")
    if dilation < 0:
        raise ValueError(f"dilation must be >= 0, got {dilation}")
    mask = (targets[..., :1] > threshold * max_val).astype(np.float32)
    if dilation:
        mask = tf.nn.max_pool2d(mask, ksize=2 * dilation + 1, strides=1, padding="SAME").numpy()
    return mask[..., 0] > 0.5


def brain_bounding_boxes(
    mask: npt.ArrayLike, min_size: int = SSIM_FILTER_SIZE
) -> npt.NDArray[np.int64]:
    """``[N, 4]`` int boxes ``(top, left, height, width)`` around each mask ``[N, H, W]``.

    Boxes are grown symmetrically (and kept inside the image) to at least
    ``min_size`` on each side; an empty mask gives ``(0, 0, 0, 0)``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must have shape [N, H, W], got {mask.shape}")
    _, height, width = mask.shape
    boxes = np.zeros((len(mask), 4), dtype=np.int64)
    for index, plane in enumerate(mask):
        rows = np.flatnonzero(plane.any(axis=1))
        cols = np.flatnonzero(plane.any(axis=0))
        if rows.size == 0:
            continue
        top, bottom = _grow(rows[0], rows[-1] + 1, min_size, height)
        left, right = _grow(cols[0], cols[-1] + 1, min_size, width)
        boxes[index] = (top, left, bottom - top, right - left)
    return boxes


def _grow(start: int, stop: int, min_size: int, limit: int) -> tuple[int, int]:
    """Grow ``[start, stop)`` to ``min(min_size, limit)`` pixels inside ``[0, limit)``."""
    missing = min(min_size, limit) - (stop - start)
    if missing > 0:
        start -= missing // 2
        stop += missing - missing // 2
        shift = max(0, -start) - max(0, stop - limit)
        start, stop = start + shift, stop + shift
    return int(start), int(stop)


def brain_ssim_per_slice(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
) -> npt.NDArray[np.float64]:
    """SSIM (``tf.image.ssim``'s, :func:`~oasis_helpers.metrics.structural_similarity`) on
    each slice's brain bounding box: float64 ``[N]`` (NaN: no brain).

    The box is that of :func:`brain_mask` (from the target), at least 11 pixels
    on each side. See the module docstring for why a box and not a masked map.
    """
    targets, predictions = image_pair(targets, predictions)
    boxes = brain_bounding_boxes(brain_mask(targets, threshold, dilation, max_val))
    values = np.full(len(targets), np.nan)
    for index, (top, left, height, width) in enumerate(boxes):
        if height == 0:
            continue
        window = (slice(top, top + height), slice(left, left + width))
        values[index] = float(
            structural_similarity(
                targets[index][window][None], predictions[index][window][None], max_val
            )[0]
        )
    return values


def brain_psnr_per_slice(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
) -> npt.NDArray[np.float64]:
    """PSNR over the brain mask's pixels: float64 ``[N]`` in dB (NaN: no brain, inf: exact).

    ``10 log10(max_val^2 / MSE_mask)``, ``MSE_mask`` the mean squared error over the
    mask's pixels (all channels): ``tf.image.psnr``'s formula restricted to the brain.
    """
    targets, predictions = image_pair(targets, predictions)
    mask = brain_mask(targets, threshold, dilation, max_val)[..., None]
    squared = np.square(targets.astype(np.float64) - predictions.astype(np.float64))
    pixels = mask.sum(axis=(1, 2, 3)) * targets.shape[-1]
    sums = (squared * mask).sum(axis=(1, 2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        mse = np.where(pixels > 0, sums / np.maximum(pixels, 1), np.nan)
        values = 10.0 * np.log10(max_val**2 / mse)
    return np.where(pixels > 0, values, np.nan)
