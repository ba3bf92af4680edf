"""Whole-image SSIM and PSNR per slice and their means, with the checks of image batches.

:func:`ssim_per_slice` is the SSIM of ``tf.image.ssim`` (Wang et al. 2004; an 11x11
Gaussian window of sigma 1.5, ``k1 = 0.01``, ``k2 = 0.03``, the mean of the map over the
window's valid positions), computed by :func:`structural_similarity` with a separable
filter: ``tf.image.ssim`` filters with an 11x11 depthwise convolution, which TensorFlow's
Eigen kernels (a CPU without oneDNN) run many times slower than two 11-tap passes of
``scipy.ndimage`` (``tests/test_metrics_image_quality.py`` checks that the two agree).
:func:`psnr_per_slice` is ``tf.image.psnr`` over bounded chunks; :func:`ssim` and
:func:`psnr` their means (each slice's PSNR capped at :data:`MAX_PSNR`).
:func:`image_batch` and :func:`image_pair` turn inputs into checked
float32 ``[N, H, W, C]`` batches (at least :data:`SSIM_FILTER_SIZE` pixels a side).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import tensorflow as tf
from scipy import ndimage

__all__ = [
    "MAX_PSNR",
    "SSIM_FILTER_SIZE",
    "image_batch",
    "image_pair",
    "psnr",
    "psnr_per_slice",
    "ssim",
    "ssim_per_slice",
    "structural_similarity",
]


#: Cap of a single slice's PSNR in the means (identical slices have infinite PSNR).
MAX_PSNR = 100.0

#: Side of tf.image.ssim's Gaussian window (its default); brain boxes are at least this big.
SSIM_FILTER_SIZE = 11
#: Standard deviation of that window, in pixels (tf.image.ssim's default).
SSIM_FILTER_SIGMA = 1.5
#: SSIM's stabilising constants as fractions of the intensity range (tf.image.ssim's).
SSIM_K1, SSIM_K2 = 0.01, 0.03


def image_batch(images, name: str) -> np.ndarray:
    """Float32 ``[N, H, W, C]`` from ``[N, H, W, C]`` or one ``[H, W, C]`` slice."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"{name} must have shape [N, H, W, C] or [H, W, C], got {array.shape}")
    return array


def image_pair(targets, predictions) -> tuple[np.ndarray, np.ndarray]:
    targets = image_batch(targets, "targets")
    predictions = image_batch(predictions, "predictions")
    if targets.shape != predictions.shape:
        raise ValueError(
            f"targets and predictions differ in shape: {targets.shape} vs {predictions.shape}"
        )
    if min(targets.shape[1:3]) < SSIM_FILTER_SIZE:
        raise ValueError(
            f"images must be at least {SSIM_FILTER_SIZE}x{SSIM_FILTER_SIZE} pixels "
            f"(tf.image.ssim's window), got {targets.shape[1:3]}"
        )
    return targets, predictions


def _in_chunks(function, targets, predictions, chunk: int = 256) -> np.ndarray:
    """``function`` over aligned chunks of two arrays (bounded memory), concatenated."""
    results = [
        np.asarray(function(targets[i : i + chunk], predictions[i : i + chunk]))
        for i in range(0, len(targets), chunk)
    ]
    return np.concatenate(results).astype(np.float64) if results else np.zeros(0)


def _gaussian_window() -> np.ndarray:
    """The 1-D taps ``g [SSIM_FILTER_SIZE]`` of the window; the 2-D window is ``g g^T``."""
    offsets = np.arange(SSIM_FILTER_SIZE) - (SSIM_FILTER_SIZE - 1) / 2
    taps = np.exp(-0.5 * (offsets / SSIM_FILTER_SIGMA) ** 2)
    return taps / taps.sum()


def structural_similarity(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """SSIM of each image pair, ``tf.image.ssim``'s maths: float64 ``[N]`` in ``[-1, 1]``.

    With ``G * z`` the Gaussian-weighted local mean (the window of :data:`SSIM_FILTER_SIZE`
    taps, sigma :data:`SSIM_FILTER_SIGMA`, at the positions where it fits inside the image),
    ``mu_x = G * x``, ``sigma_x^2 = G * x^2 - mu_x^2``, ``sigma_xy = G * (x y) - mu_x mu_y``
    and ``c_i = (k_i max_val)^2``::

        SSIM(x, y) = mean over positions and channels of
                     (2 mu_x mu_y + c_1) (2 sigma_xy + c_2)
                     / ((mu_x^2 + mu_y^2 + c_1) (sigma_x^2 + sigma_y^2 + c_2))

    Args:
        targets, predictions: images ``[N, H, W, C]`` of one shape, ``H, W >= 11``.
        max_val: the intensity range.
    """
    x = np.asarray(targets, np.float64)
    y = np.asarray(predictions, np.float64)
    taps, crop = _gaussian_window(), SSIM_FILTER_SIZE // 2
    inside = (slice(None), slice(crop, -crop), slice(crop, -crop), slice(None))

    def local_mean(z: np.ndarray) -> np.ndarray:  # G * z over the valid positions
        z = ndimage.correlate1d(z, taps, axis=1, mode="constant")
        return ndimage.correlate1d(z, taps, axis=2, mode="constant")[inside]

    c1, c2 = (SSIM_K1 * max_val) ** 2, (SSIM_K2 * max_val) ** 2
    mean_x, mean_y = local_mean(x), local_mean(y)
    variance_x = local_mean(x * x) - mean_x**2
    variance_y = local_mean(y * y) - mean_y**2
    covariance = local_mean(x * y) - mean_x * mean_y
    luminance = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1)
    structure = (2 * covariance + c2) / (variance_x + variance_y + c2)
    return (luminance * structure).mean(axis=(1, 2, 3))


def ssim_per_slice(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """SSIM of each slice (:func:`structural_similarity`, ``tf.image.ssim``'s maths, over
    bounded chunks): float64 ``[N]`` in ``[-1, 1]`` (1: identical)."""
    targets, predictions = image_pair(targets, predictions)
    return _in_chunks(
        lambda a, b: structural_similarity(a, b, max_val), targets, predictions, chunk=64
    )


def psnr_per_slice(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """``tf.image.psnr`` of each slice in dB: float64 ``[N]`` (``inf`` for identical slices)."""
    targets, predictions = image_pair(targets, predictions)
    return _in_chunks(
        lambda a, b: tf.image.psnr(tf.constant(a), tf.constant(b), max_val=max_val),
        targets,
        predictions,
    )


def ssim(targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0) -> float:
    """Mean whole-image SSIM over the slices."""
    return float(np.mean(ssim_per_slice(targets, predictions, max_val)))


def psnr(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    max_psnr: float = MAX_PSNR,
) -> float:
    """Mean whole-image PSNR (dB) over the slices, each slice capped at ``max_psnr``."""
    return float(np.mean(np.minimum(psnr_per_slice(targets, predictions, max_val), max_psnr)))
