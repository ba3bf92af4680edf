"""Does a generated slice show the anatomy of its height? The judge's reading of each
sample against the real slices at the same height.

Real training slices have known heights ``h`` (:func:`oasis_helpers.code_location.slice_heights`)
and tissue masks; binned by height into ``bins`` equal intervals of ``[0, 1]``, they give
for each bin ``b`` the mean and spread of the three tissue area fractions
(:func:`oasis_helpers.judge.tissue_fractions`)::

    real_mean[b, t] = mean { f_t(x) : x real, h(x) in bin b }

A generated slice has no mask: the judge reads its tissue fractions ``f^(x)`` and its
height ``h^(x)``. Each sample is placed at the height it was asked for (a prior
conditioned on the height) or, without one, at the height the judge reads. Then

* ``height_error``: ``mean |h^(x) - h_asked(x)|`` (conditional samples only): does the
  sample lie where it was asked to? Compare it with the judge's own error on real
  validation slices (its ``height_mae``);
* ``tissue_error``: ``mean_x mean_t |f^_t(x) - real_mean[bin(x), t]|``: does it hold the
  tissue a real slice at that height holds? Compare it with the same measured on real
  held-out slices (their judged fractions against the training slices' profile).

Shapes: ``images`` ``[N, S, S, 1]``; heights ``[N]`` in ``[0, 1]``; tissues ``[N, 3]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from oasis_helpers.judge.network import judge_predictions

__all__ = ["AnatomyProfile", "anatomy_profile", "height_bin", "real_profile"]


def height_bin(heights: npt.ArrayLike, bins: int) -> npt.NDArray[np.int64]:
    """The bin of each height among ``bins`` equal intervals of ``[0, 1]`` (1 is in the last)."""
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    heights = np.clip(np.asarray(heights, np.float64).reshape(-1), 0.0, 1.0)
    return np.minimum((heights * bins).astype(np.int64), int(bins) - 1)


def real_profile(
    heights: npt.ArrayLike, tissues: npt.ArrayLike, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per height bin, the real slices' tissue fractions: ``(mean [B, 3], std [B, 3],
    count [B])`` (NaN for a bin with no slice)."""
    tissues = np.asarray(tissues, np.float64)
    which = height_bin(heights, bins)
    if tissues.shape != (len(which), 3):
        raise ValueError(f"tissues must have shape [{len(which)}, 3], got {tissues.shape}")
    mean = np.full((bins, 3), np.nan)
    std = np.full((bins, 3), np.nan)
    count = np.bincount(which, minlength=bins)
    for index in np.flatnonzero(count):
        mean[index] = tissues[which == index].mean(axis=0)
        std[index] = tissues[which == index].std(axis=0)
    return mean, std, count


class AnatomyProfile(NamedTuple):
    """What :func:`anatomy_profile` measured for one set of slices.

    Attributes:
        bin_centres: ``[B]``, the centres of the height bins.
        real_mean, real_std: ``[B, 3]``, the real slices' tissue fractions per bin.
        real_count: ``[B]``, real slices per bin.
        placed_heights: ``[N]``, the height each slice was placed at (asked, or judged).
        judged_heights: ``[N]``, the height the judge reads.
        judged_tissues: ``[N, 3]``, the tissue fractions the judge reads.
        height_error: ``mean |judged - asked|``, or ``None`` without asked heights.
        tissue_error: ``mean |judged tissue - real_mean at the placed height|`` over the
            slices whose bin holds real slices.
    """

    bin_centres: np.ndarray
    real_mean: np.ndarray
    real_std: np.ndarray
    real_count: np.ndarray
    placed_heights: np.ndarray
    judged_heights: np.ndarray
    judged_tissues: np.ndarray
    height_error: float | None
    tissue_error: float

    def summary(self) -> dict[str, float | None]:
        """``{"height_error": ..., "tissue_error": ...}`` (plain floats)."""
        return {"height_error": self.height_error, "tissue_error": self.tissue_error}


def anatomy_profile(
    judge,
    images: npt.ArrayLike,
    real_heights: npt.ArrayLike,
    real_tissues: npt.ArrayLike,
    heights: npt.ArrayLike | None = None,
    bins: int = 10,
) -> AnatomyProfile:
    """The judge's reading of ``images`` against real slices at the same height.

    Args:
        judge: a judge trained on both targets (``height`` and ``tissue``).
        images: float32 ``[N, S, S, 1]``, e.g. decoded samples, or real held-out slices
            (the reference a perfect generator would reach).
        real_heights, real_tissues: ``[M]`` and ``[M, 3]``: the real (training) slices'
            heights and tissue fractions, the profile the images are held against.
        heights: ``[N]``, the heights the images were asked for (a conditional prior's
            ``slice_heights``, or real slices' own heights), or ``None``: placed at the
            judged height.
        bins: height bins.

    Returns:
        :class:`AnatomyProfile`.
    """
    predictions = judge_predictions(judge, images)
    if "tissue" not in predictions or "height" not in predictions:
        raise ValueError("anatomy_profile needs a judge trained on both height and tissue")
    mean, std, count = real_profile(real_heights, real_tissues, bins)
    judged_heights = predictions["height"].astype(np.float64)
    judged_tissues = predictions["tissue"].astype(np.float64)
    height_error = None
    placed = judged_heights
    if heights is not None:
        placed = np.asarray(heights, np.float64).reshape(-1)
        if placed.shape != judged_heights.shape:
            raise ValueError(f"heights must hold one height per image ({len(judged_heights)})")
        height_error = float(np.abs(judged_heights - placed).mean())
    expected = mean[height_bin(placed, bins)]
    known = np.all(np.isfinite(expected), axis=1)
    tissue_error = (
        float(np.abs(judged_tissues[known] - expected[known]).mean()) if known.any() else np.nan
    )
    return AnatomyProfile(
        bin_centres=(np.arange(bins) + 0.5) / bins,
        real_mean=mean,
        real_std=std,
        real_count=count,
        placed_heights=placed,
        judged_heights=judged_heights,
        judged_tissues=judged_tissues,
        height_error=height_error,
        tissue_error=tissue_error,
    )
