"""Anomaly maps from differences and code-grid scores, and their post-processing.

* reconstruction residual :func:`residual_map`: ``|G_sigma * (x - x_hat)|``, the
  absolute value of the *signed* difference smoothed by a Gaussian of
  ``sigma = DEFAULT_DIFFERENCE_SMOOTHING`` pixels. A lesion shifts intensities the
  same way over a blob, while a healthy reconstruction errs around edges with
  alternating sign; smoothing before the absolute value cancels the second and keeps
  the first (``sigma = 0``: the plain ``|x - x_hat|``);
* the restoration map :func:`restoration_map`: the same difference against the decoded
  healed grids of several restorations (:mod:`oasis_helpers.anomaly.restoration`),
  averaged;
* a per-code score such as the prior's surprise ``-log p(z_ij | z_<ij)``, brought to the
  image by :func:`upsample_grid_map` (nearest: each code's value fills its ``f x f``
  block; bilinear: half-pixel-centred linear interpolation).

:func:`postprocess_map` (Baur et al. 2021) zeroes a map outside the brain region
(:func:`oasis_helpers.anomaly.lesions.brain_region`) and applies a
``median_size x median_size`` median filter per slice (``scipy.ndimage.median_filter``),
then zeroes the outside again.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.anomaly.inputs import as_map_batch, check_same_shape

__all__ = [
    "DEFAULT_DIFFERENCE_SMOOTHING",
    "DEFAULT_MEDIAN_SIZE",
    "postprocess_map",
    "residual_map",
    "restoration_map",
    "upsample_grid_map",
]

#: ``sigma`` (pixels) of the Gaussian that smooths the signed differences ``x - x_hat`` and
#: ``x - x_healed`` before their absolute value (:func:`residual_map`,
#: :func:`restoration_map`). Chosen with ``benchmarks/anomaly.py`` on notebook 05's
#: validation slices: of sigma 0, 1 and 2, 1 gives both the residual and the default
#: restoration their best pixel AUROC (``benchmarks/results/anomaly_demo.json``:
#: ``baselines.reconstruction_by_sigma.<sigma>.auroc_pixel`` and each variant's
#: ``maps["input sigma <sigma>"].<restorations>.auroc_pixel``).
DEFAULT_DIFFERENCE_SMOOTHING = 1.0


#: Side of the median filter that smooths every anomaly map (Baur et al. 2021 use 5).
DEFAULT_MEDIAN_SIZE = 5


def _smoothed_difference(
    images: np.ndarray, others: np.ndarray, smoothing: float, stacked: int = 0
) -> np.ndarray:
    """``|G_sigma * (x - y)|`` of arrays ``[*stack, N, H, W(, 1)]`` with ``stacked``
    leading stack axes; the Gaussian runs over ``H`` and ``W`` only."""
    if isinstance(smoothing, bool) or not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite sigma >= 0 pixels, got {smoothing}")
    difference = images.astype(np.float32) - others.astype(np.float32)
    if smoothing > 0:
        sigmas = [0.0] * difference.ndim
        sigmas[stacked + 1] = sigmas[stacked + 2] = float(smoothing)
        difference = ndimage.gaussian_filter(difference, sigmas, mode="nearest")
    return np.abs(difference)


def residual_map(
    images: npt.ArrayLike,
    reconstructions: npt.ArrayLike,
    smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
) -> npt.NDArray[np.float32]:
    """Reconstruction residual ``|G_sigma * (x - x_hat)|`` as float32 ``[N, H, W]``.

    Args:
        images, reconstructions: ``[N, H, W, 1]`` (or ``[N, H, W]``), same shape.
        smoothing: ``sigma`` in pixels of the Gaussian applied to the signed difference
            before its absolute value (0: ``|x - x_hat|``); see
            :data:`DEFAULT_DIFFERENCE_SMOOTHING`.
    """
    images, reconstructions = np.asarray(images), np.asarray(reconstructions)
    check_same_shape(images=images, reconstructions=reconstructions)
    return as_map_batch(_smoothed_difference(images, reconstructions, smoothing), "images")


def restoration_map(
    images: npt.ArrayLike,
    healed_reconstructions: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
) -> npt.NDArray[np.float32]:
    """Weighted mean residual over ``R`` restorations:
    ``sum_r w_r |G_sigma * (x - x_r)| / sum_r w_r``.

    Args:
        images: ``[N, H, W, 1]`` inputs ``x``.
        healed_reconstructions: ``[R, N, H, W, 1]`` decoded healed grids ``x_r``.
        weights: None (equal weights), ``[R]`` or ``[R, N]`` non-negative weights, e.g. the
            likelihood of each restoration.
        smoothing: ``sigma`` in pixels, as in :func:`residual_map` (0: ``|x - x_r|``).

    Returns:
        float32 ``[N, H, W]``.
    """
    images = np.asarray(images, np.float32)
    healed = np.asarray(healed_reconstructions, np.float32)
    if healed.ndim != images.ndim + 1 or healed.shape[1:] != images.shape:
        raise ValueError(
            f"healed_reconstructions must have shape [R, *images.shape] = [R, {images.shape}], "
            f"got {healed.shape}"
        )
    restorations = healed.shape[0]
    if weights is None:
        weights = np.ones(restorations, np.float32)
    weights = np.asarray(weights, np.float32)
    if weights.ndim == 1:
        weights = np.broadcast_to(weights[:, None], (restorations, images.shape[0]))
    if weights.shape != (restorations, images.shape[0]) or np.any(weights < 0):
        raise ValueError(
            f"weights must be non-negative with shape [R] or [R, N] = [{restorations}, "
            f"{images.shape[0]}], got shape {weights.shape}"
        )
    totals = weights.sum(axis=0)
    if np.any(totals <= 0):
        raise ValueError("weights of every slice must not all be zero")
    residuals = _smoothed_difference(images[None], healed, smoothing, stacked=1)
    residuals = residuals.reshape(restorations, images.shape[0], -1)
    mean = np.einsum("rn,rnp->np", weights, residuals) / totals[:, None]
    return as_map_batch(mean.reshape(images.shape), "images").astype(np.float32)


def upsample_grid_map(
    grid_map: npt.ArrayLike, image_size: int | tuple[int, int], method: str = "nearest"
) -> npt.NDArray[np.float32]:
    """Bring a per-position code-grid map ``[N, h, w]`` to the image ``[N, H, W]``.

    * ``"nearest"``: each grid value fills the ``H/h x W/w`` block of pixels that its code
      encodes (``np.repeat``; needs ``H`` and ``W`` to be multiples of ``h`` and ``w``);
      the map's sum grows by exactly ``(H/h)(W/w)``.
    * ``"bilinear"``: linear interpolation with half-pixel-centred grids (pixel centres at
      ``(i + 0.5) h / H - 0.5`` in grid units, edges replicated), like
      ``tf.image.resize(..., "bilinear")``; smooth, no block edges.

    Args:
        grid_map: ``[N, h, w]`` (e.g. the prior's ``-log p`` per position).
        image_size: ``S`` or ``(H, W)``.
        method: ``"nearest"`` or ``"bilinear"``.

    Returns:
        float32 ``[N, H, W]``.
    """
    grid_map = np.asarray(grid_map, np.float32)
    if grid_map.ndim != 3:
        raise ValueError(f"grid_map must have shape [N, h, w], got {grid_map.shape}")
    height, width = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    _, grid_height, grid_width = grid_map.shape
    if method == "nearest":
        if height % grid_height or width % grid_width:
            raise ValueError(
                f"image_size {(height, width)} must be a multiple of the grid size "
                f"{(grid_height, grid_width)} for method='nearest'"
            )
        return np.repeat(
            np.repeat(grid_map, height // grid_height, axis=1), width // grid_width, axis=2
        )
    if method == "bilinear":
        zoom = (1.0, height / grid_height, width / grid_width)
        upsampled = ndimage.zoom(grid_map, zoom, order=1, mode="nearest", grid_mode=True)
        return upsampled.astype(np.float32)
    raise ValueError(f"method must be 'nearest' or 'bilinear', got {method!r}")


def postprocess_map(
    anomaly_map: npt.ArrayLike, region: npt.ArrayLike, median_size: int = DEFAULT_MEDIAN_SIZE
) -> npt.NDArray[np.float32]:
    """Restrict a map to the brain region and smooth it with a median filter (per slice).

    ``m' = region * median_filter(region * m, median_size x median_size)``.

    Args:
        anomaly_map: float ``[N, H, W]``.
        region: bool ``[N, H, W]``, usually :func:`brain_region` of the input slices.
        median_size: side of the median filter; 1 disables smoothing.

    Returns:
        float32 ``[N, H, W]``, zero outside ``region``.
    """
    anomaly_map = as_map_batch(anomaly_map, "anomaly_map").astype(np.float32)
    region = as_map_batch(region, "region").astype(bool)
    check_same_shape(anomaly_map=anomaly_map, region=region)
    if median_size < 1:
        raise ValueError(f"median_size must be >= 1, got {median_size}")
    restricted = np.where(region, anomaly_map, 0.0).astype(np.float32)
    if median_size > 1:
        restricted = ndimage.median_filter(restricted, size=(1, median_size, median_size))
    return np.where(region, restricted, 0.0).astype(np.float32)
