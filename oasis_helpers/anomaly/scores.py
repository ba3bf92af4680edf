"""Intensity- and texture-aware restoration scores, calibrated on healthy validation slices.

The restoration map ``|G_sigma * (x - x_healed)|`` (:func:`~oasis_helpers.anomaly.maps.
restoration_map`) weighs a difference of 0.05 the same everywhere. In healthy slices the
healed image errs by much more at tissue borders and in textured grey matter than in the
flat white matter, so a lesion nearly isointense with white matter (a bright constant
disc of 0.95 where white matter is about 0.89) scores below healthy texture. A uniform
patch is also easier to reconstruct than textured tissue. The scores here read the same
healed images ``x_r`` (no extra restoration) three other ways:

* ``zscore``: the difference divided by its spread on healthy slices for pixels *like
  this one*, ``z_r = |d_r| / s(b(y_r), c(y_r))`` with ``d_r = G_sigma * (x - x_r)``, ``b``
  the bin of the healed intensity ``G_sigma * x_r`` (what the tissue should be), ``c`` the
  bin of the healed image's local standard deviation (flat or textured, border or not)
  and ``s`` the root mean square of ``d`` over the healthy brain pixels of that bin
  (:func:`fit_score_reference`), floored at ``tau``;
* ``position``: the same difference divided by its spread on healthy slices at the same
  pixel, ``|d_r| / s(i, j)`` with ``s(i, j)`` the root mean square of ``d`` over the
  healthy slices' brain pixels at ``(i, j)``, both sums smoothed by a Gaussian of
  ``position_smoothing`` pixels (slices of registered brains put the same tissue near the
  same pixel) and floored at ``tau``;
* ``local``: how far the pixel's intensity lies from the healed image's local intensity
  distribution, ``|G_sigma * x - mu_w(x_r)| / sqrt(v_w(x_r) + tau^2)`` with ``mu_w`` and
  ``v_w`` the mean and variance under a Gaussian window of ``sigma = window`` pixels;
* ``texture``: texture absence, ``max(0, 1/2 log((e + tau^2) / (v_w(x) + tau^2)))`` with
  the expected local variance ``e = max(v_w(x_r), t(b(y_r)))``: the log ratio of the
  local standard deviation the tissue should have (the healed image's, or that of healthy
  inputs of the same healed intensity, ``t``: the median of ``v_w(x)`` over the healthy
  pixels of the bin) to the input's, positive where the input is flatter than the tissue
  the prior expects there (a constant-valued lesion has no texture, even where its healed
  codes copy its own intensity and so have none either);
* ``rarity``: how rare the pixel's own intensity is in healthy brains, whatever the healed
  image says, ``-log10 p`` with the two-sided tail probability ``p = 2 min(F(v), 1 -
  F(v))`` of ``v = G_sigma * x`` under the distribution ``F`` of the healthy brain pixels
  (at least ``1 / (n + 1)``). It needs no restoration: it finds a large lesion whose
  healed codes copy its intensity (the restoration sees no difference there) when that
  intensity is rare in healthy tissue (brighter than almost all white matter);
* ``slice_rarity``: the same for the intensity relative to the slice's own level,
  ``v - q_s`` with ``q_s`` the :data:`SLICE_LEVEL_QUANTILE` of the slice's brain pixels
  (:func:`~oasis_helpers.anomaly.lesions.brain_region`), so that a slice scaled brighter
  or darker than others does not hide a lesion a little brighter than its own white
  matter.

Each is the mean over the ``R`` restorations. Every score is divided by its ``quantile``
(0.95) over healthy validation brain pixels, so 1 means "as high as the top 5 % of
healthy tissue"; combined scores (``zscore_texture``, ...) take the pixel-wise maximum of
their normalised components (:data:`SCORES`). ``difference`` is the plain restoration
map, normalised the same way. :func:`restoration_score` computes any of them;
:func:`oasis_helpers.anomaly.anomaly_maps` takes ``score`` and ``score_reference``.

Shapes: images ``[N, H, W, 1]``; healed images ``[R, N, H, W, 1]`` (or ``[N, H, W, 1]``
for one, e.g. the reconstructions); regions and maps ``[N, H, W]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.anomaly.inputs import as_map_batch, check_same_shape
from oasis_helpers.anomaly.maps import DEFAULT_DIFFERENCE_SMOOTHING

__all__ = [
    "COMPONENTS",
    "DEFAULT_SCORE_QUANTILE",
    "DEFAULT_RESTORATION_SCORE",
    "DEFAULT_SCORE_WINDOW",
    "SCORES",
    "SLICE_LEVEL_QUANTILE",
    "ScoreReference",
    "fit_score_reference",
    "restoration_score",
    "score_components",
]

#: The single scores, each a map ``[N, H, W]`` (see the module docstring).
COMPONENTS = ("difference", "zscore", "position", "local", "texture", "rarity", "slice_rarity")

#: Score name -> the components whose normalised maps it takes the maximum of.
SCORES = {
    "difference": ("difference",),
    "zscore": ("zscore",),
    "local": ("local",),
    "texture": ("texture",),
    "difference_texture": ("difference", "texture"),
    "zscore_texture": ("zscore", "texture"),
    "local_texture": ("local", "texture"),
    "zscore_local": ("zscore", "local"),
    "position": ("position",),
    "position_texture": ("position", "texture"),
    "rarity": ("rarity",),
    "difference_rarity": ("difference", "rarity"),
    "rarity_texture": ("rarity", "texture"),
    "difference_rarity_texture": ("difference", "rarity", "texture"),
    "slice_rarity": ("slice_rarity",),
    "difference_slice_rarity": ("difference", "slice_rarity"),
}

#: The score notebook 05's restoration map uses: the pick, on validation slices with a mix
#: of lesion kinds, of ``benchmarks/lesion_kinds.py`` (``benchmarks/results/
#: lesion_kinds_demo.json``: ``summary.<candidate>.validation_restoration.auroc_pixel``,
#: per seed, against ``summary.notebook``'s plain difference). The difference finds what
#: the healed image changed; the rarity finds a lesion whose healed codes copy its own
#: intensity when that intensity is rare in healthy brains (a bright disc in white matter).
DEFAULT_RESTORATION_SCORE = "difference_rarity"


#: The quantile of a slice's brain intensities that ``slice_rarity`` measures from (the
#: level of its brightest tissue, white matter in T1).
SLICE_LEVEL_QUANTILE = 0.75

#: ``sigma`` (pixels) of the Gaussian window of the local means and variances.
DEFAULT_SCORE_WINDOW = 2.0

#: Each score is divided by this quantile of its values on healthy validation brain pixels.
DEFAULT_SCORE_QUANTILE = 0.95


class ScoreReference(NamedTuple):
    """What :func:`fit_score_reference` measured on healthy validation slices.

    Attributes:
        intensity_edges: float ``[B + 1]`` bin edges of the healed intensity.
        texture_edges: float ``[C + 1]`` bin edges of the healed image's local sd.
        spreads: float ``[B, C]`` root mean square of the signed difference ``d`` of the
            healthy brain pixels in each bin, at least ``floor``.
        texture_variances: float ``[B]`` median local variance ``v_w(x)`` of the healthy
            inputs in each healed-intensity bin.
        intensity_quantiles: float ``[Q]`` quantiles of ``G_sigma * x`` over the healthy
            brain pixels at levels ``linspace(0, 1, Q)``: the distribution of ``rarity``.
        slice_quantiles: float ``[Q]`` the same for ``G_sigma * x - q_s`` (``slice_rarity``).
        position_spreads: float ``[H, W]`` root mean square of ``d`` at each pixel over
            the healthy slices, smoothed, at least ``floor``.
        floor: ``tau``, the smallest spread and the variance floor of ``local`` and
            ``texture``: ``floor_fraction`` times the RMS of ``d`` over all healthy pixels.
        scales: component name -> its ``quantile`` over healthy brain pixels.
        window, smoothing, quantile: the settings the reference was fitted with.
    """

    intensity_edges: npt.NDArray[np.float64]
    texture_edges: npt.NDArray[np.float64]
    spreads: npt.NDArray[np.float64]
    texture_variances: npt.NDArray[np.float64]
    intensity_quantiles: npt.NDArray[np.float64]
    slice_quantiles: npt.NDArray[np.float64]
    position_spreads: npt.NDArray[np.float64]
    floor: float
    scales: dict[str, float]
    window: float
    smoothing: float
    quantile: float


def _as_stack(images: npt.ArrayLike, healed: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(x [N, H, W], y [R, N, H, W])`` from images and one or ``R`` healed batches."""
    x = np.asarray(images, np.float32)
    y = np.asarray(healed, np.float32)
    if y.shape == x.shape:
        y = y[None]
    if x.ndim != 4 or x.shape[-1] != 1 or y.shape[1:] != x.shape:
        raise ValueError(
            f"images must have shape [N, H, W, 1] and healed [R, N, H, W, 1] or [N, H, W, 1] "
            f"of the same N, H, W; got images {x.shape} and healed {np.shape(healed)}"
        )
    return x[..., 0], y[..., 0]


def _blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian of ``sigma`` pixels over the last two axes (``sigma = 0``: unchanged)."""
    if sigma <= 0:
        return values
    sigmas = [0.0] * (values.ndim - 2) + [float(sigma)] * 2
    return ndimage.gaussian_filter(values, sigmas, mode="nearest")


def _local_moments(values: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Local mean ``mu_w = G_w * v`` and variance ``v_w = G_w * v^2 - mu_w^2`` (>= 0)."""
    mean = _blur(values, window)
    variance = np.maximum(_blur(values * values, window) - mean * mean, 0.0)
    return mean, variance


def _check_settings(window: float, smoothing: float, quantile: float) -> None:
    if not np.isfinite(window) or window <= 0:
        raise ValueError(f"window must be a finite sigma > 0 pixels, got {window}")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite sigma >= 0 pixels, got {smoothing}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")


def _pixel_features(x: np.ndarray, y: np.ndarray, window: float, smoothing: float):
    """Signed differences ``d [R, N, H, W]``, healed intensity and local sd of the healed."""
    difference = _blur(x[None] - y, smoothing)
    intensity = _blur(y, smoothing)
    _, variance = _local_moments(y, window)
    return difference, intensity, np.sqrt(variance)


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index in ``[0, len(edges) - 2]`` (values outside go to the end bins)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:  # every value equal: one bin around it
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def _rarity(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """``-log10`` of the two-sided tail probability of ``values`` under the distribution
    whose quantiles at ``linspace(0, 1, Q)`` are ``quantiles`` (at least ``1 / (Q + 1)``)."""
    levels = np.linspace(0.0, 1.0, quantiles.size)
    cumulative = np.interp(values, quantiles, levels)
    tail = np.maximum(2 * np.minimum(cumulative, 1 - cumulative), 1.0 / (quantiles.size + 1))
    return -np.log10(tail)


def _relative_to_slice(x: np.ndarray, smoothing: float) -> np.ndarray:
    """``G_sigma * x - q_s`` per slice ``[N, H, W]``, ``q_s`` the slice's brain level."""
    from oasis_helpers.anomaly.lesions import brain_region

    values = _blur(x, smoothing)
    brains = brain_region(x)
    levels = np.array(
        [
            np.quantile(value[brain], SLICE_LEVEL_QUANTILE) if brain.any() else 0.0
            for value, brain in zip(values, brains, strict=True)
        ]
    )
    return values - levels[:, None, None]


def score_components(
    images: npt.ArrayLike,
    healed: npt.ArrayLike,
    reference: ScoreReference,
    components: tuple[str, ...] = COMPONENTS,
) -> dict[str, npt.NDArray[np.float32]]:
    """The unnormalised component maps (:data:`COMPONENTS`), each the mean over ``R``.

    Args:
        images: ``[N, H, W, 1]`` inputs ``x``.
        healed: ``[R, N, H, W, 1]`` decoded healed grids ``x_r`` (or ``[N, H, W, 1]``).
        reference: from :func:`fit_score_reference`; its spreads, floor, window and
            smoothing are used, not its scales.
        components: which maps to compute.

    Returns:
        component name -> float32 ``[N, H, W]``.
    """
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown components {sorted(unknown)}; choose from {COMPONENTS}")
    x, y = _as_stack(images, healed)
    tau2 = float(reference.floor) ** 2
    maps: dict[str, np.ndarray] = {}
    difference = _blur(x[None] - y, reference.smoothing)
    if "difference" in components:
        maps["difference"] = np.abs(difference).mean(axis=0)
    healed_mean, healed_variance = _local_moments(y, reference.window)
    intensity_bin = _bin(_blur(y, reference.smoothing), reference.intensity_edges)
    if "zscore" in components:
        spread = reference.spreads[
            intensity_bin, _bin(np.sqrt(healed_variance), reference.texture_edges)
        ]
        maps["zscore"] = (np.abs(difference) / spread).mean(axis=0)
    if "position" in components:
        if reference.position_spreads.shape != x.shape[1:]:
            raise ValueError(
                f"the reference was fitted on slices of {reference.position_spreads.shape} "
                f"pixels, images have {x.shape[1:]}: the position score needs the same size"
            )
        maps["position"] = (np.abs(difference) / reference.position_spreads).mean(axis=0)
    if "local" in components:
        distance = np.abs(_blur(x, reference.smoothing)[None] - healed_mean)
        maps["local"] = (distance / np.sqrt(healed_variance + tau2)).mean(axis=0)
    if "texture" in components:
        _, input_variance = _local_moments(x, reference.window)
        expected = np.maximum(healed_variance, reference.texture_variances[intensity_bin])
        ratio = np.log((expected + tau2) / (input_variance[None] + tau2))
        maps["texture"] = np.maximum(0.5 * ratio, 0.0).mean(axis=0)
    if "rarity" in components:
        maps["rarity"] = _rarity(_blur(x, reference.smoothing), reference.intensity_quantiles)
    if "slice_rarity" in components:
        maps["slice_rarity"] = _rarity(_relative_to_slice(x, reference.smoothing),
                                       reference.slice_quantiles)  # fmt: skip
    return {name: maps[name].astype(np.float32) for name in components}


def fit_score_reference(
    images: npt.ArrayLike,
    healed: npt.ArrayLike,
    region: npt.ArrayLike,
    intensity_bins: int = 16,
    texture_bins: int = 4,
    window: float = DEFAULT_SCORE_WINDOW,
    smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
    quantile: float = DEFAULT_SCORE_QUANTILE,
    floor_fraction: float = 0.25,
    position_smoothing: float = 4.0,
) -> ScoreReference:
    """Fit the spreads and scales of the scores on *healthy* slices and their restorations.

    Bins: ``intensity_bins`` equal-count bins of the healed intensity ``G_sigma * x_r``
    times ``texture_bins`` equal-count bins of the healed local sd ``sqrt(v_w(x_r))``,
    over the healthy brain pixels of every restoration. In bin ``(b, c)``,
    ``s = max(tau, sqrt(mean d^2))`` with ``d = G_sigma * (x - x_r)``; an empty bin takes
    the overall RMS. ``tau = floor_fraction * sqrt(mean d^2)`` over all healthy pixels.
    ``t(b)``, the median local variance ``v_w(x)`` of the healthy pixels of intensity bin
    ``b`` (0 for an empty bin). Then each component of :data:`COMPONENTS` is computed on
    the same slices and its ``quantile`` over their brain pixels becomes its scale.

    Args:
        images: ``[N, H, W, 1]`` healthy validation slices (no lesion).
        healed: ``[R, N, H, W, 1]`` their decoded healed grids (or ``[N, H, W, 1]``, e.g.
            reconstructions).
        region: bool ``[N, H, W]`` their brain pixels.
        intensity_bins, texture_bins: ``B >= 1`` and ``C >= 1``.
        window: ``sigma`` of the local moments; smoothing: ``sigma`` of the differences.
        quantile: of the scales, in ``(0, 1)``.
        floor_fraction: ``tau`` relative to the overall RMS difference, in ``(0, 1]``.
        position_smoothing: ``sigma`` (pixels, > 0) of the per-pixel spread's smoothing.

    Returns:
        A :class:`ScoreReference`.
    """
    _check_settings(window, smoothing, quantile)
    for name, bins in (("intensity_bins", intensity_bins), ("texture_bins", texture_bins)):
        if isinstance(bins, bool) or int(bins) != bins or bins < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {bins}")
    if not 0.0 < floor_fraction <= 1.0:
        raise ValueError(f"floor_fraction must lie in (0, 1], got {floor_fraction}")
    if not np.isfinite(position_smoothing) or position_smoothing <= 0:
        raise ValueError(f"position_smoothing must be a sigma > 0 pixels, got {position_smoothing}")
    x, y = _as_stack(images, healed)
    region = as_map_batch(region, "region").astype(bool)
    check_same_shape(images=x, region=region)
    if not region.any():
        raise ValueError("region holds no pixel: nothing to fit the scores on")
    difference, intensity, texture = _pixel_features(x, y, window, smoothing)
    inside = np.broadcast_to(region, difference.shape)
    d, b, c = difference[inside], intensity[inside], texture[inside]
    _, input_variance = _local_moments(x, window)
    v = np.broadcast_to(input_variance, difference.shape)[inside]
    overall = float(np.sqrt(np.mean(d.astype(np.float64) ** 2)))
    floor = max(floor_fraction * overall, 1e-6)
    intensity_edges = _quantile_edges(b, int(intensity_bins))
    texture_edges = _quantile_edges(c, int(texture_bins))
    flat = _bin(b, intensity_edges) * (len(texture_edges) - 1) + _bin(c, texture_edges)
    shape = (len(intensity_edges) - 1, len(texture_edges) - 1)
    counts = np.bincount(flat, minlength=shape[0] * shape[1])
    squares = np.bincount(flat, weights=d.astype(np.float64) ** 2, minlength=counts.size)
    rms = np.where(counts > 0, np.sqrt(squares / np.maximum(counts, 1)), overall)
    spreads = np.maximum(rms, floor).reshape(shape)
    intensity_bin = _bin(b, intensity_edges)
    texture_variances = np.array(
        [
            np.median(v[intensity_bin == index]) if np.any(intensity_bin == index) else 0.0
            for index in range(shape[0])
        ]
    )
    weights = np.broadcast_to(region, difference.shape).astype(np.float64)
    pixel_squares = _blur((weights * difference.astype(np.float64) ** 2).sum(axis=(0, 1)),
                          position_smoothing)  # fmt: skip
    pixel_counts = _blur(weights.sum(axis=(0, 1)), position_smoothing)
    enough = pixel_counts > 0.5 * weights.shape[0]  # at least half a slice's worth
    position_spreads = np.where(
        enough, np.sqrt(pixel_squares / np.maximum(pixel_counts, 1e-12)), overall
    )
    position_spreads = np.maximum(position_spreads, floor)
    inputs = _blur(x, smoothing)[region].astype(np.float64)
    levels = np.linspace(0.0, 1.0, min(inputs.size, 2001))
    intensity_quantiles = np.quantile(inputs, levels)
    slice_quantiles = np.quantile(_relative_to_slice(x, smoothing)[region], levels)
    reference = ScoreReference(
        intensity_edges, texture_edges, spreads, texture_variances, intensity_quantiles,
        slice_quantiles, position_spreads, floor, {}, float(window), float(smoothing),
        float(quantile),
    )  # fmt: skip
    components = score_components(images, healed, reference)
    scales = {
        name: max(float(np.quantile(values[region], quantile)), 1e-12)
        for name, values in components.items()
    }
    return reference._replace(scales=scales)


def restoration_score(
    images: npt.ArrayLike,
    healed: npt.ArrayLike,
    reference: ScoreReference,
    score: str = "zscore",
) -> npt.NDArray[np.float32]:
    """A restoration score of :data:`SCORES`: the pixel-wise maximum of its normalised
    components ``max_k m_k / scale_k`` (one component: ``m / scale``).

    Args:
        images: ``[N, H, W, 1]``; healed: ``[R, N, H, W, 1]`` (or ``[N, H, W, 1]``).
        reference: :func:`fit_score_reference` of healthy validation slices.
        score: a key of :data:`SCORES`.

    Returns:
        float32 ``[N, H, W]`` (not post-processed: pass it to
        :func:`~oasis_helpers.anomaly.maps.postprocess_map`). About 5 % of healthy brain
        pixels score above 1 at the default quantile.
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {tuple(SCORES)}, got {score!r}")
    components = score_components(images, healed, reference, SCORES[score])
    normalised = [components[name] / reference.scales[name] for name in SCORES[score]]
    return np.maximum.reduce(normalised).astype(np.float32)
