"""Every image metric of a set of reconstructions, per slice and averaged.

:func:`evaluate_reconstructions` gives whole-image and brain SSIM and PSNR;
:func:`summarize` their NaN-ignoring means (PSNR capped).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.metrics.brain import brain_psnr_per_slice, brain_ssim_per_slice
from oasis_helpers.metrics.image_quality import MAX_PSNR, psnr_per_slice, ssim_per_slice

__all__ = [
    "evaluate_reconstructions",
    "summarize",
]


def evaluate_reconstructions(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    max_psnr: float = MAX_PSNR,
) -> dict[str, Any]:
    """Every image metric per slice and averaged.

    Returns:
        ``{"per_slice": {"ssim", "ssim_brain", "psnr", "psnr_brain"} -> float64 [N],
        "ssim", "ssim_brain", "psnr", "psnr_brain" -> float}``. Means skip NaN
        (slices without brain) and cap each slice's PSNR at ``max_psnr``.
    """
    per_slice = {
        "ssim": ssim_per_slice(targets, predictions, max_val),
        "ssim_brain": brain_ssim_per_slice(targets, predictions, max_val),
        "psnr": psnr_per_slice(targets, predictions, max_val),
        "psnr_brain": brain_psnr_per_slice(targets, predictions, max_val),
    }
    result: dict[str, Any] = {"per_slice": per_slice}
    result.update(summarize(per_slice, max_psnr=max_psnr))
    return result


def summarize(
    per_slice: dict[str, npt.NDArray[np.float64]], max_psnr: float = MAX_PSNR
) -> dict[str, float]:
    """NaN-ignoring means of per-slice metrics (PSNR-like keys capped at ``max_psnr``)."""
    means = {}
    for key, values in per_slice.items():
        values = np.asarray(values, dtype=np.float64)
        if key.startswith("psnr"):
            values = np.minimum(values, max_psnr)
        finite = values[~np.isnan(values)]
        means[key] = float(finite.mean()) if finite.size else float("nan")
    return means
