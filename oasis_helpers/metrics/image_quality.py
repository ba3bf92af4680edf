"""Whole-image SSIM and PSNR per slice and their means, with the checks of image batches.

:func:`ssim_per_slice` and :func:`psnr_per_slice` are ``tf.image.ssim`` and ``tf.image.psnr``
over bounded chunks; :func:`ssim` and :func:`psnr` their means (each slice's PSNR capped at
:data:`MAX_PSNR`). :func:`image_batch` and :func:`image_pair` turn inputs into checked
float32 ``[N, H, W, C]`` batches (at least :data:`SSIM_FILTER_SIZE` pixels a side).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import tensorflow as tf

__all__ = [
    "MAX_PSNR",
    "SSIM_FILTER_SIZE",
    "image_batch",
    "image_pair",
    "psnr",
    "psnr_per_slice",
    "ssim",
    "ssim_per_slice",
]


#: Cap of a single slice's PSNR in the means (identical slices have infinite PSNR).
MAX_PSNR = 100.0

#: Side of tf.image.ssim's Gaussian window (its default); brain boxes are at least this big.
SSIM_FILTER_SIZE = 11


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


def ssim_per_slice(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """``tf.image.ssim`` of each slice: float64 ``[N]`` in ``[-1, 1]`` (1: identical)."""
    targets, predictions = image_pair(targets, predictions)
    return _in_chunks(
        lambda a, b: tf.image.ssim(tf.constant(a), tf.constant(b), max_val=max_val),
        targets,
        predictions,
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
