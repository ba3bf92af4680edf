"""Unsupervised lesion detection: synthetic lesions, anomaly maps, prior-guided restoration
and their evaluation.

A model of healthy brains (the VQ-VAE and its PixelCNN prior) should explain a healthy
slice well and a damaged one badly; *where* it fails is the anomaly map. This module holds
the model-independent parts; the models plug in through plain arrays and callables.

Shapes: images are float32 ``[N, H, W, 1]`` in ``[0, 1]``; masks and anomaly maps are
``[N, H, W]`` (bool and float32); code grids are int ``[N, h, w]`` with ``H = f h`` for the
encoder's downsampling factor ``f``; ``K`` is the codebook size.

Lesions (evaluation)
    :func:`synthesize_lesions` draws bright or dark blobs into brain tissue: a randomly
    rotated ellipse whose radius is perturbed by a few angular harmonics (an irregular,
    star-shaped outline), with a smooth edge. For a pixel at polar position
    ``(rho, phi)`` of the ellipse's normalised coordinates,
    ``s = 1 - rho / (1 + sum_k c_k cos(k phi + phi_k))`` is positive inside; the blend
    weight is ``alpha = smoothstep(s / softness)`` (``3t^2 - 2t^3``, clipped to [0, 1]),
    set to 0 where ``alpha < MIN_ALPHA`` so that every lesion pixel changes visibly. The
    lesioned image is ``clip(x + alpha * delta, 0, 1)`` with a signed contrast ``delta``
    (bright ``> 0`` or dark ``< 0``). The returned mask is *exactly* the set of pixels
    whose value changed (``x' != x``).

Brain region and post-processing (Baur et al. 2021, "Autoencoders for unsupervised
anomaly segmentation in brain MR images: a comparative study")
    :func:`brain_region` is ``x > threshold`` (``metrics.BRAIN_THRESHOLD``), holes filled,
    eroded by a disk of radius ``erosion`` pixels (the skull-stripping edge is where every
    model errs; it is not a lesion). :func:`postprocess_map` zeroes a map outside that
    region and applies a ``median_size x median_size`` median filter per slice
    (``scipy.ndimage.median_filter``), then zeroes the outside again.

Anomaly maps
    * reconstruction residual :func:`residual_map`: ``|G_sigma * (x - x_hat)|``, the
      absolute value of the *signed* difference smoothed by a Gaussian of
      ``sigma = DEFAULT_DIFFERENCE_SMOOTHING`` pixels. A lesion shifts intensities the
      same way over a blob, while a healthy reconstruction errs around edges with
      alternating sign; smoothing before the absolute value cancels the second and keeps
      the first (``sigma = 0``: the plain ``|x - x_hat|``);
    * the prior's per-position surprise ``-log p(z_ij | z_<ij)`` on the code grid,
      brought to the image by :func:`upsample_grid_map` (nearest: each code's value fills
      its ``f x f`` block; bilinear: half-pixel-centred linear interpolation);
    * prior-guided restoration (Pinaya et al. 2022; the latent restoration of MOOD 2020):
      :func:`restore_codes` walks the grid in raster order and resamples every code whose
      probability under the prior, *given the codes before it as already healed*, is below
      a threshold; the caller decodes the healed grids and :func:`restoration_map` averages
      ``|G_sigma * (x - x_healed)|`` over several restorations. The threshold comes from healthy
      validation grids only (:func:`choose_restoration_threshold`).
      :func:`restore_with_prior` runs it with notebook 04's PixelCNN: by default on the
      fast sampler's row caches (:func:`restore_with_sampler`, about one sampling pass
      per batch), with ``fast=False`` on full network passes (the reference);
      :func:`restoration_region` confines it to the brain codes near what one prior pass
      flags, so that a replacement cannot derail every code after it.

Codes of the brain and of a lesion (one definition of each, used by the maps, notebook 05
and ``benchmarks/anomaly.py``)
    :func:`brain_codes` are the codes whose ``f x f`` pixel block holds any pixel of the
    (uneroded) brain: where restoration may resample, where the healthy thresholds are
    taken and which codes the code-level AUROC ranks. :func:`lesion_codes` are the codes
    whose block lies at least :data:`LESION_CODE_COVERAGE` (a quarter) in a lesion mask:
    the positives of the code-level AUROC, the oracle region of the benchmark, the lesion
    codes that restoration is counted as resampling. The other brain codes,
    ``brain & ~lesion``, are the healthy ones. Each function's docstring says why.

:func:`anomaly_maps` computes and times the three maps for a batch of slices (notebook 05).

Evaluation (scikit-learn), over the pixels of an evaluation region (usually the brain)
    pixel AUROC / AUPRC (:func:`pixel_auroc`, :func:`pixel_auprc`), the best Dice over all
    thresholds ``ceil(Dice) = max_t 2 TP(t) / (|P(t)| + |L|)`` (:func:`best_dice`, from
    ``precision_recall_curve``: Dice is the F1 score ``2 p r / (p + r)``), the Dice at a
    given threshold (:func:`dice_at_threshold`), a threshold chosen on validation slices
    (:func:`choose_dice_threshold`), slice scores (:func:`slice_scores`) and slice-level
    AUROC (:func:`slice_auroc`); :func:`evaluate_map` gathers them. Dice is pooled over
    all evaluated pixels of all slices (one confusion matrix), as in Baur et al.

Nothing here draws: figures belong to :mod:`oasis_helpers.plots`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from oasis_helpers.metrics import BRAIN_THRESHOLD

__all__ = [
    "AnomalyMaps",
    "ConditionalProbabilities",
    "DEFAULT_DIFFERENCE_SMOOTHING",
    "DEFAULT_EROSION",
    "DEFAULT_FLAG_DILATION",
    "DEFAULT_FLAG_QUANTILES",
    "DEFAULT_FLAG_SMOOTHING",
    "DEFAULT_MEDIAN_SIZE",
    "DEFAULT_NUM_RESTORATIONS",
    "DEFAULT_RESTORATION_QUANTILE",
    "LESION_CODE_COVERAGE",
    "METHODS",
    "METRIC_KEYS",
    "MIN_ALPHA",
    "Restoration",
    "anomaly_maps",
    "best_dice",
    "brain_codes",
    "brain_region",
    "choose_dice_threshold",
    "choose_restoration_threshold",
    "code_level_auroc",
    "code_region",
    "covered_codes",
    "conditional_from_full_pass",
    "dice_at_threshold",
    "evaluate_map",
    "flag_probabilities",
    "lesion_codes",
    "observed_code_probabilities",
    "pixel_auprc",
    "pixel_auroc",
    "postprocess_map",
    "residual_map",
    "restoration_map",
    "restoration_region",
    "restore_codes",
    "restore_repeatedly",
    "restore_with_prior",
    "restore_with_sampler",
    "slice_auroc",
    "slice_scores",
    "synthesize_lesions",
    "upsample_grid_map",
]

#: ``sigma`` (pixels) of the Gaussian that smooths the signed differences ``x - x_hat`` and
#: ``x - x_healed`` before their absolute value (:func:`residual_map`,
#: :func:`restoration_map`). On the 32 validation slices of notebook 05 (demo cohort,
#: default models, ``benchmarks/anomaly.py``, ``benchmarks/results/anomaly_demo.json``)
#: sigma = 1 raised the pixel AUROC of the residual from 0.763 to 0.801 and of one
#: restoration (quantile 0.01) from 0.752 to 0.778; sigma = 2 gave 0.784 and 0.758.
DEFAULT_DIFFERENCE_SMOOTHING = 1.0

#: Radius (pixels) of the disk that erodes the thresholded brain mask.
DEFAULT_EROSION = 3
#: Side of the median filter that smooths every anomaly map (Baur et al. 2021 use 5).
DEFAULT_MEDIAN_SIZE = 5
#: Quantile of healthy validation code probabilities used as the restoration threshold:
#: inside the region that the blind-spot model flags, the raster walk resamples a code the
#: prior finds less likely, given the healed codes before it, than half of healthy codes.
DEFAULT_RESTORATION_QUANTILE = 0.5
#: Candidates for the flag threshold of the restoration region: a quantile of the
#: blind-spot model's probabilities (3 x 3 geometric means) of healthy validation brain
#: codes, so 0.005 flags codes more surprising than all but 0.5 % of healthy ones.
#: Notebook 05 picks one on validation slices with synthetic lesions.
DEFAULT_FLAG_QUANTILES = (0.02, 0.01, 0.005)
#: Side, in codes, of the box mean over the blind-spot surprise before it is thresholded.
DEFAULT_FLAG_SMOOTHING = 3
#: Restorations averaged into the restoration map (each a fresh draw of replacements).
DEFAULT_NUM_RESTORATIONS = 3
#: Restoration may change only codes within this many codes (a square) of a code that one
#: prior pass flags; ``None`` lets it change any brain code.
DEFAULT_FLAG_DILATION = 1
#: Side, in codes, of the box mean over the prior's NLL map before it is brought to the
#: image: a lesion surprises the prior at its codes and at the codes after them, so the
#: mean over a neighbourhood separates lesion codes from healthy ones better than one
#: code's NLL. Measured on 48 validation slices with synthetic lesions (code-level AUROC,
#: codes at least a quarter covered by a lesion against the other brain codes): 0.63 for one
#: code, 0.71 for 3 x 3, 0.71 for 5 x 5 on the 64x64 grid; 0.69, 0.79, 0.81 on a 32x32 grid.
DEFAULT_LIKELIHOOD_SMOOTHING = 3
#: Share of a code's ``f x f`` pixel block that a lesion mask must cover for the code to be
#: a lesion code (:func:`lesion_codes`): 4 of the 16 pixels at ``downsample = 4``.
LESION_CODE_COVERAGE = 0.25
#: The three methods of notebook 05, in the order of its tables.
METHODS = ("reconstruction", "likelihood", "restoration")
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
#: Blend weights below this are set to 0, so every masked pixel changes by at least
#: ``MIN_ALPHA * |delta|`` (unless clipped at 0 or 1).
MIN_ALPHA = 0.1

#: ``conditional_probabilities(codes, row, col) -> [N, K]``: see :func:`restore_codes`.
ConditionalProbabilities = Callable[[np.ndarray, int, int], np.ndarray]


# ============================================================================ input checks


def _as_image_batch(images, name: str = "images") -> tuple[np.ndarray, bool]:
    """Images as float32 ``[N, H, W]``, and whether a single slice came in.

    Accepts ``[N, H, W, 1]`` and ``[N, H, W]`` batches and single slices ``[H, W, 1]``
    (a 3D array whose last axis has size 1) and ``[H, W]``.
    """
    array = np.asarray(images)
    if array.ndim == 2:
        return array[None].astype(np.float32), True
    if array.ndim == 3 and array.shape[-1] == 1:
        return array[None, ..., 0].astype(np.float32), True
    if array.ndim == 4 and array.shape[-1] == 1:
        return array[..., 0].astype(np.float32), False
    if array.ndim == 3:
        return array.astype(np.float32), False
    raise ValueError(
        f"{name} must have shape [N, H, W, 1], [N, H, W], [H, W, 1] or [H, W], got {array.shape}"
    )


def _as_map_batch(values, name: str) -> np.ndarray:
    """Maps or masks ``[N, H, W]`` (or ``[N, H, W, 1]``) as an array ``[N, H, W]``."""
    array = np.asarray(values)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape [N, H, W], got {array.shape}")
    return array


def _check_same_shape(**arrays: np.ndarray) -> None:
    shapes = {name: np.shape(array) for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match: {listed}")


# ============================================================================ brain region


def _disk(radius: int) -> np.ndarray:
    rows, cols = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return rows**2 + cols**2 <= radius**2


def brain_region(
    images, threshold: float = BRAIN_THRESHOLD, erosion: int = DEFAULT_EROSION
) -> np.ndarray:
    """The eroded brain mask in which lesions are drawn and maps are evaluated.

    ``region = erode(fill_holes(x > threshold), disk(erosion))``, per slice.

    Args:
        images: ``[N, H, W, 1]``, ``[N, H, W]``, ``[H, W, 1]`` or ``[H, W]`` intensities.
        threshold: intensity above which a pixel is brain.
        erosion: radius in pixels of the eroding disk; 0 keeps the filled mask.

    Returns:
        bool ``[N, H, W]`` (``[H, W]`` for one slice).
    """
    batch, single = _as_image_batch(images)
    if erosion < 0:
        raise ValueError(f"erosion must be >= 0 pixels, got {erosion}")
    per_slice = np.zeros((3, 3, 3), bool)
    per_slice[1] = ndimage.generate_binary_structure(2, 1)  # no connection across slices
    region = ndimage.binary_fill_holes(batch > threshold, structure=per_slice)
    if erosion:
        region = ndimage.binary_erosion(region, structure=_disk(erosion)[None])
    return region[0] if single else region


# ============================================================================ lesions


def _smoothstep(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0.0, 1.0)
    return values * values * (3.0 - 2.0 * values)


def _lesion_alpha(rng: np.random.Generator, area: float, softness: float) -> tuple[np.ndarray, int]:
    """A blend weight patch ``[2R+1, 2R+1]`` in ``[0, 1]`` for one lesion of about ``area``
    pixels (the area where ``alpha >= MIN_ALPHA``), and its half-size ``R``."""
    radius = np.sqrt(area / np.pi)
    aspect = rng.uniform(1.0, 1.6)
    # the core alpha >= MIN_ALPHA ends near s = softness * 0.2, i.e. rho ~ 1 - 0.2 softness
    scale = radius / (1.0 - 0.2 * softness)
    axis_a, axis_b = scale * np.sqrt(aspect), scale / np.sqrt(aspect)
    harmonics = np.arange(2, 6)
    amplitudes = rng.uniform(0.0, 0.3, harmonics.size) / harmonics
    phases = rng.uniform(0.0, 2 * np.pi, harmonics.size)
    angle = rng.uniform(0.0, np.pi)
    half = int(np.ceil(max(axis_a, axis_b) * (1.0 + amplitudes.sum()))) + 1
    rows, cols = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    along = cols * np.cos(angle) + rows * np.sin(angle)
    across = -cols * np.sin(angle) + rows * np.cos(angle)
    rho = np.hypot(along / axis_a, across / axis_b)
    phi = np.arctan2(across / axis_b, along / axis_a)
    outline = 1.0 + np.sum(
        amplitudes[:, None, None] * np.cos(harmonics[:, None, None] * phi + phases[:, None, None]),
        axis=0,
    )
    alpha = _smoothstep((1.0 - rho / outline) / softness)
    alpha[alpha < MIN_ALPHA] = 0.0
    return alpha, half


def synthesize_lesions(
    images,
    seed: int,
    lesion_fraction: float = 1.0,
    lesions_per_slice: int = 1,
    min_area: float = 9.0,
    max_area_fraction: float = 0.04,
    contrast_range: tuple[float, float] = (0.15, 0.5),
    bright_probability: float = 0.5,
    softness: float = 0.5,
    threshold: float = BRAIN_THRESHOLD,
    erosion: int = DEFAULT_EROSION,
    max_tries: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw seeded synthetic lesions into brain tissue; return the images and exact masks.

    For each slice chosen to carry lesions (a ``lesion_fraction`` of the slices), each of
    ``lesions_per_slice`` lesions gets:

    * an area drawn log-uniformly from ``[min_area, max_area_fraction * brain area]``
      pixels (the brain area is that of :func:`brain_region`; about the area, the outline
      is irregular);
    * an irregular smooth blob (see the module docstring) whose centre is a random pixel of
      the eroded brain region; up to ``max_tries`` centres are tried to fit the blob fully
      inside the region, after which the blob is cut to the region;
    * a signed contrast ``delta = +-U(contrast_range)``, bright with probability
      ``bright_probability``; the image becomes ``clip(x + alpha * delta, 0, 1)``.

    Slices whose eroded brain region is smaller than ``min_area`` get no lesion.

    Args:
        images: float ``[N, H, W, 1]``, ``[N, H, W]``, ``[H, W, 1]`` or ``[H, W]`` in
            ``[0, 1]``.
        seed: the same seed gives the same lesions for the same images.

    Returns:
        ``(lesioned, masks)``: ``lesioned`` float32 of the input's shape; ``masks`` bool
        ``[N, H, W]`` (``[H, W]`` for one slice), True exactly where ``lesioned`` differs
        from the input (cast to float32).
    """
    batch, single = _as_image_batch(images)
    if batch.size and (np.nanmin(batch) < 0.0 or np.nanmax(batch) > 1.0 or np.isnan(batch).any()):
        raise ValueError(
            f"images must lie in [0, 1], got values in [{np.nanmin(batch)}, {np.nanmax(batch)}]"
        )
    if not 0.0 <= lesion_fraction <= 1.0:
        raise ValueError(f"lesion_fraction must be in [0, 1], got {lesion_fraction}")
    if lesions_per_slice < 1:
        raise ValueError(f"lesions_per_slice must be >= 1, got {lesions_per_slice}")
    if min_area < 1:
        raise ValueError(f"min_area must be >= 1 pixel, got {min_area}")
    if not 0.0 < max_area_fraction <= 1.0:
        raise ValueError(f"max_area_fraction must be in (0, 1], got {max_area_fraction}")
    low, high = contrast_range
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"contrast_range must satisfy 0 < low <= high <= 1, got {contrast_range}")
    if not 0.0 <= bright_probability <= 1.0:
        raise ValueError(f"bright_probability must be in [0, 1], got {bright_probability}")
    if softness <= 0.0:
        raise ValueError(f"softness must be > 0, got {softness}")
    if max_tries < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries}")

    regions = brain_region(batch, threshold, erosion)
    count, height, width = batch.shape
    slice_seeds = np.random.SeedSequence(seed).spawn(count)
    chosen = np.random.default_rng(seed).random(count) < lesion_fraction
    lesioned = batch.copy()
    for index in np.flatnonzero(chosen):
        rng = np.random.default_rng(slice_seeds[index])
        region = regions[index]
        candidates = np.argwhere(region)
        brain_area = len(candidates)
        if brain_area < min_area:
            continue
        for _ in range(lesions_per_slice):
            largest = max(min_area, max_area_fraction * brain_area)
            area = float(np.exp(rng.uniform(np.log(min_area), np.log(largest))))
            alpha, half = _lesion_alpha(rng, area, softness)
            padded = np.zeros((height + 2 * half, width + 2 * half), np.float64)
            region_padded = np.pad(region, half)
            for _attempt in range(max_tries):
                row, col = candidates[rng.integers(brain_area)]
                window = (slice(row, row + 2 * half + 1), slice(col, col + 2 * half + 1))
                if not np.any((alpha > 0) & ~region_padded[window]):
                    break
            padded[window] = alpha
            weight = padded[half : half + height, half : half + width] * region
            delta = rng.uniform(low, high) * (1.0 if rng.random() < bright_probability else -1.0)
            lesioned[index] = np.clip(
                lesioned[index] + (weight * delta).astype(np.float32), 0.0, 1.0
            )
    masks = lesioned != batch
    if single:
        return lesioned[0].reshape(np.shape(images)), masks[0]
    return lesioned.reshape(np.shape(images)), masks


# ============================================================================ maps


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
    images, reconstructions, smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING
) -> np.ndarray:
    """Reconstruction residual ``|G_sigma * (x - x_hat)|`` as float32 ``[N, H, W]``.

    Args:
        images, reconstructions: ``[N, H, W, 1]`` (or ``[N, H, W]``), same shape.
        smoothing: ``sigma`` in pixels of the Gaussian applied to the signed difference
            before its absolute value (0: ``|x - x_hat|``); see
            :data:`DEFAULT_DIFFERENCE_SMOOTHING`.
    """
    images, reconstructions = np.asarray(images), np.asarray(reconstructions)
    _check_same_shape(images=images, reconstructions=reconstructions)
    return _as_map_batch(_smoothed_difference(images, reconstructions, smoothing), "images")


def restoration_map(
    images,
    healed_reconstructions,
    weights=None,
    smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
) -> np.ndarray:
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
    return _as_map_batch(mean.reshape(images.shape), "images").astype(np.float32)


def upsample_grid_map(grid_map, image_size, method: str = "nearest") -> np.ndarray:
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


def postprocess_map(anomaly_map, region, median_size: int = DEFAULT_MEDIAN_SIZE) -> np.ndarray:
    """Restrict a map to the brain region and smooth it with a median filter (per slice).

    ``m' = region * median_filter(region * m, median_size x median_size)``.

    Args:
        anomaly_map: float ``[N, H, W]``.
        region: bool ``[N, H, W]``, usually :func:`brain_region` of the input slices.
        median_size: side of the median filter; 1 disables smoothing.

    Returns:
        float32 ``[N, H, W]``, zero outside ``region``.
    """
    anomaly_map = _as_map_batch(anomaly_map, "anomaly_map").astype(np.float32)
    region = _as_map_batch(region, "region").astype(bool)
    _check_same_shape(anomaly_map=anomaly_map, region=region)
    if median_size < 1:
        raise ValueError(f"median_size must be >= 1, got {median_size}")
    restricted = np.where(region, anomaly_map, 0.0).astype(np.float32)
    if median_size > 1:
        restricted = ndimage.median_filter(restricted, size=(1, median_size, median_size))
    return np.where(region, restricted, 0.0).astype(np.float32)


# ============================================================================ restoration


class Restoration(NamedTuple):
    """Result of :func:`restore_codes`.

    Attributes:
        codes: int32 ``[N, h, w]`` healed grids.
        flagged: bool ``[N, h, w]``: the code there had ``p < threshold`` (given the
            healed codes before it) and was resampled.
        changed: bool ``[N, h, w]``: ``codes != input codes``; a subset of ``flagged``
            (a resampled code may come out the same).
        probabilities: float32 ``[N, h, w]``: ``p(z_ij | healed z_<ij)`` of the code that
            was there before the decision (the input code).
    """

    codes: np.ndarray
    flagged: np.ndarray
    changed: np.ndarray
    probabilities: np.ndarray


def observed_code_probabilities(probabilities, codes) -> np.ndarray:
    """The probability of each observed code: ``P[n, i, j, codes[n, i, j]]``.

    Args:
        probabilities: ``[N, h, w, K]`` per-position distributions (e.g. one causal prior pass).
        codes: int ``[N, h, w]``.

    Returns:
        float ``[N, h, w]``; ``-log`` of it is the prior's per-position surprise map.
    """
    probabilities, codes = np.asarray(probabilities), np.asarray(codes)
    if probabilities.ndim != 4 or probabilities.shape[:3] != codes.shape:
        raise ValueError(
            f"probabilities must have shape [*codes.shape, K] = [{codes.shape}, K], "
            f"got {probabilities.shape}"
        )
    return np.take_along_axis(probabilities, codes[..., None].astype(np.intp), axis=-1)[..., 0]


def choose_restoration_threshold(
    validation_code_probabilities, quantile: float = DEFAULT_RESTORATION_QUANTILE
) -> float:
    """The restoration threshold: a low quantile of healthy validation code probabilities.

    ``threshold = Quantile_q { p(z_ij | z_<ij) : healthy validation grids }``, so that a
    fraction ``q`` of healthy codes would be resampled. By design this function takes
    only the validation probabilities: the evaluated slices never set the threshold.

    Args:
        validation_code_probabilities: any shape, values in ``[0, 1]``: the probabilities
            of the observed codes of healthy validation grids (see
            :func:`observed_code_probabilities`; pass ``exp(log_p)`` for natural
            log-probabilities, ``2 ** -nll_bits`` for the prior's NLL in bits).
        quantile: ``q`` in ``(0, 1)``.
    """
    values = np.asarray(validation_code_probabilities, np.float64).ravel()
    if values.size == 0:
        raise ValueError("validation_code_probabilities is empty")
    if np.isnan(values).any() or values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(
            "validation_code_probabilities must be probabilities in [0, 1] (pass exp(log_p) or "
            "2 ** -nll_bits), "
            f"got values in [{np.nanmin(values)}, {np.nanmax(values)}]"
        )
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    return float(np.quantile(values, quantile))


def restore_codes(
    codes,
    conditional_probabilities: ConditionalProbabilities,
    threshold: float,
    seed: int,
    temperature: float = 1.0,
    truncate: bool = True,
    region=None,
) -> Restoration:
    """Prior-guided restoration ("healing") of code grids in raster order.

    For each position ``(i, j)`` in raster order (row by row, left to right):

    1. ``p = conditional_probabilities(healed, i, j)``: ``[N, K]``, the prior's
       distribution of the code at ``(i, j)`` given the codes before it *as already healed*;
    2. where ``p[z_ij] < threshold`` (and ``region[i, j]`` when given), draw a new code from
       ``q_k ∝ p_k^(1/temperature)``, restricted to the codes with ``p_k >= threshold``
       when ``truncate`` (and some exist), and write it into ``healed``.

    Once the border of a lesion is healed, its interior becomes unlikely given the healed
    border, so the whole lesion is resampled (one likelihood pass flags mostly the border).

    The callable's contract: it is called exactly once per position, in raster order, with
    the same array object ``healed`` whose entries before ``(i, j)`` are final (never
    changed later); the entries at and after ``(i, j)`` are the input codes and must be
    ignored. A sampler with a cache (notebook 04's fast sampler) can therefore update its
    cache incrementally, so a restoration costs about one sampling pass.
    :func:`conditional_from_full_pass` adapts a causal full-grid model.

    Args:
        codes: int ``[N, h, w]`` code grids of the slices to restore.
        conditional_probabilities: ``(codes [N, h, w], row, col) -> [N, K]`` probabilities.
        threshold: resample codes with probability below this (see
            :func:`choose_restoration_threshold`).
        seed: seeds the draws (same seed and inputs -> same result).
        temperature: ``> 0``; below 1 sharpens the distribution of the replacement codes.
        truncate: draw replacements only from codes at or above the threshold.
        region: optional bool ``[N, h, w]`` or ``[h, w]``: only these positions may change.

    Returns:
        :class:`Restoration` with the healed codes, the flagged and changed positions and the
        probabilities of the input codes.
    """
    codes = np.asarray(codes)
    if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"codes must be an integer array [N, h, w], got {codes.dtype} {codes.shape}"
        )
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
    if temperature <= 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    count, grid_height, grid_width = codes.shape
    if region is None:
        region = np.ones(codes.shape, bool)
    region = np.broadcast_to(np.asarray(region, bool), codes.shape)
    rng = np.random.default_rng(seed)
    healed = codes.astype(np.int32, copy=True)
    flagged = np.zeros(codes.shape, bool)
    probabilities_of_codes = np.zeros(codes.shape, np.float32)
    slices = np.arange(count)
    for row in range(grid_height):
        for col in range(grid_width):
            probabilities = np.asarray(conditional_probabilities(healed, row, col), np.float64)
            if probabilities.ndim != 2 or probabilities.shape[0] != count:
                raise ValueError(
                    f"conditional_probabilities must return [N, K] = [{count}, K], "
                    f"got {probabilities.shape} at position ({row}, {col})"
                )
            current = healed[:, row, col]
            if current.max() >= probabilities.shape[1] or current.min() < 0:
                raise ValueError(
                    f"codes must lie in [0, {probabilities.shape[1] - 1}] (K from "
                    f"conditional_probabilities), got {current.min()}..{current.max()}"
                )
            observed = probabilities[slices, current]
            probabilities_of_codes[:, row, col] = observed
            uniform = rng.random(count)  # one draw per slice and position: stable streams
            resample = (observed < threshold) & region[:, row, col]
            if not resample.any():
                continue
            flagged[:, row, col] = resample
            proposal = probabilities[resample]
            if truncate:
                likely = proposal >= threshold
                keep = likely | ~likely.any(axis=1, keepdims=True)
                proposal = np.where(keep, proposal, 0.0)
            with np.errstate(divide="ignore"):
                logits = np.log(proposal) / temperature  # q ∝ p^(1/T), in log space
            proposal = np.exp(logits - logits.max(axis=1, keepdims=True))
            proposal /= proposal.sum(axis=1, keepdims=True)
            cumulative = np.cumsum(proposal, axis=1)
            draws = (cumulative < uniform[resample, None]).sum(axis=1)
            healed[resample, row, col] = np.minimum(draws, probabilities.shape[1] - 1)
    changed = healed != codes
    return Restoration(healed, flagged, changed, probabilities_of_codes)


def restore_repeatedly(
    codes, restore: Callable[..., Restoration], threshold: float, num_restorations: int, seed: int
) -> Restoration:
    """``R = num_restorations`` independent restorations of the same grids, stacked.

    ``restore(codes, threshold=..., seed=...)`` is one restoration, e.g.
    ``functools.partial(restore_codes, conditional_probabilities=...)`` or
    ``functools.partial(restore_with_prior, model)``; restoration ``r`` gets the ``r``-th
    integer of ``np.random.SeedSequence(seed).generate_state(R)`` as its seed.

    Returns:
        :class:`Restoration` whose fields have shape ``[R, N, h, w]``; decode each
        ``codes[r]`` and pass the stack to :func:`restoration_map`.
    """
    if int(num_restorations) != num_restorations or num_restorations < 1:
        raise ValueError(f"num_restorations must be a positive integer, got {num_restorations}")
    seeds = np.random.SeedSequence(seed).generate_state(int(num_restorations))
    results = [restore(codes, threshold=threshold, seed=int(value)) for value in seeds]
    return Restoration(*(np.stack(field) for field in zip(*results, strict=True)))


def restore_with_sampler(
    sampler,
    codes,
    threshold: float,
    seed: int = 0,
    positions=None,
    temperature: float = 1.0,
    truncate: bool = True,
    region=None,
    progress: bool = False,
) -> Restoration:
    """The algorithm of :func:`restore_codes` on a fast sampler's row caches.

    Walks the grid in raster order like sampling does, with the same row caches
    (:meth:`oasis_helpers.prior.FastSampler.walk_rows`), but feeds the *healed* codes
    forward. At position ``(i, j)``, with ``p = softmax(logits(healed codes before (i, j)))``
    ``[N, K]`` and the observed code ``z = codes[:, i, j]``:

    * keep ``z`` where ``p[z] >= threshold`` (or outside ``region``);
    * else draw a replacement from ``q_k ∝ p_k^(1/temperature)``, restricted to the
      codes with ``p_k >= threshold`` when ``truncate`` (and some exist), with the
      stateless seed ``fold_in(seed, i * w + j)`` of :func:`oasis_helpers.prior.draw_codes`.

    The cost is one sampling pass over the batch (one vertical-stack pass per row, the
    horizontal stack and head on one position per step), not one network pass per flagged
    code. Each row's walk is one compiled function per value of ``truncate``, traced on the
    first call and kept on the sampler (:meth:`~oasis_helpers.prior.FastSampler.row_function`).
    :func:`restore_codes` is the reference.

    Args:
        sampler: a :class:`oasis_helpers.prior.FastSampler` (e.g.
            ``prior.fast_sampler(model)``, the one sampling uses).
        codes: int ``[N, h, w]`` observed code grids.
        threshold: probability in ``[0, 1]``; 0 keeps every code.
        seed: seeds the replacement draws.
        positions: the slices' heights ``[N]`` (or one value) for a conditional prior.
        temperature: ``> 0``, divides the replacement's logits.
        truncate: draw replacements only among codes with ``p_k >= threshold``.
        region: optional bool ``[N, h, w]`` or ``[h, w]``: only these positions may change.
        progress: show a progress bar over the rows.

    Returns:
        :class:`Restoration` (fields ``[N, h, w]``); its ``probabilities`` are ``p[z]`` of
        each observed code given the healed codes before it.
    """
    import tensorflow as tf

    from oasis_helpers.prior.inputs import check_codes, check_positions
    from oasis_helpers.prior.sampling import check_sampling, draw_codes

    model = sampler.model
    codes = check_codes(codes, model.num_embeddings)
    count, height, width = codes.shape
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
    temperature, _ = check_sampling(temperature, None, model.num_embeddings)
    positions = check_positions(positions, count, model.conditional)
    region = np.ones(codes.shape, bool) if region is None else np.asarray(region, bool)
    try:
        region = np.broadcast_to(region, codes.shape)
    except ValueError:
        raise ValueError(
            f"region must have shape [N, h, w] or [h, w] = {codes.shape[1:]}, got {region.shape}"
        ) from None

    def build():
        def restoration_row(links, features, observed_row, region_row, row, limit, heat, seed):
            row_width = tf.shape(links[0])[1]

            def choose(logits, column):  # logits [B, K] given the healed codes before
                distribution = tf.nn.softmax(logits)
                observed = observed_row[:, column]
                observed_probability = tf.gather(distribution, observed, batch_dims=1)
                resample = (observed_probability < limit) & region_row[:, column]
                proposal = tf.nn.log_softmax(logits)
                if truncate:
                    likely = distribution >= limit
                    keep = likely | ~tf.reduce_any(likely, axis=1, keepdims=True)
                    proposal = tf.where(keep, proposal, tf.constant(-1e9, proposal.dtype))
                drawn = draw_codes(proposal, heat, None, seed, row * row_width + column)
                code = tf.where(resample, drawn, observed)
                return code, resample, observed_probability

            return sampler.walk_row(links, features, choose, (tf.bool, tf.float32))

        return restoration_row

    restoration_row = sampler.row_function(("restoration", bool(truncate)), build)
    constants = (
        tf.constant(float(threshold), tf.float32),
        tf.constant(temperature, tf.float32),
        tf.constant([int(seed), 0], dtype=tf.int64),
    )

    def row_walk(links, row_features, row):
        observed, allowed = tf.constant(codes[:, row]), tf.constant(region[:, row])
        return restoration_row(links, row_features, observed, allowed, tf.constant(row), *constants)

    outputs = sampler.walk_rows(count, height, width, positions, row_walk, progress)
    healed, flagged, probabilities = (
        np.stack([np.asarray(output[index]) for output in outputs], axis=1).astype(dtype)
        for index, dtype in enumerate((np.int32, bool, np.float32))
    )
    return Restoration(healed, flagged, healed != codes, probabilities)


def restore_with_prior(
    model,
    codes,
    threshold: float,
    seed: int,
    positions=None,
    temperature: float = 1.0,
    truncate: bool = True,
    region=None,
    fast: bool = True,
) -> Restoration:
    """Restore code grids with a PixelCNN prior (notebook 04's ``GatedPixelCNN``).

    The algorithm of :func:`restore_codes`. ``fast=True`` (the default) runs it with the
    fast sampler's row caches (:func:`restore_with_sampler` on the model's
    ``prior.fast_sampler``): a batch costs about one sampling pass, and draws use the
    sampler's stateless seeds.
    ``fast=False`` is the reference: :func:`restore_codes` on
    :func:`conditional_from_full_pass` of the full network (one full pass per position
    where some grid changed, NumPy draws); both flag and keep the same codes, and at a
    near-zero temperature both draw the most likely admissible code.

    Args:
        model: a :class:`oasis_helpers.prior.GatedPixelCNN` over ``K`` codes.
        codes: int ``[N, h, w]``.
        threshold, seed, temperature, truncate, region: as in :func:`restore_codes`.
        positions: the slices' heights ``[N]`` (or one value) when the prior is conditional.

    Returns:
        :class:`Restoration` (fields ``[N, h, w]``).
    """
    codes = np.asarray(codes)
    if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"codes must be an integer array [N, h, w], got {codes.dtype} {codes.shape}"
        )
    if fast:
        from oasis_helpers import prior

        return restore_with_sampler(
            prior.fast_sampler(model),
            codes,
            threshold,
            seed,
            positions=positions,
            temperature=temperature,
            truncate=truncate,
            region=region,
        )
    from scipy.special import softmax

    from oasis_helpers import prior

    def full_pass(grids: np.ndarray) -> np.ndarray:
        return softmax(prior.prior_logits(model, grids, positions).astype(np.float64), axis=-1)

    return restore_codes(
        codes,
        conditional_from_full_pass(full_pass),
        threshold,
        seed,
        temperature=temperature,
        truncate=truncate,
        region=region,
    )


def conditional_from_full_pass(
    full_pass: Callable[[np.ndarray], np.ndarray],
) -> ConditionalProbabilities:
    """Adapt a causal full-grid model to :func:`restore_codes`' per-position callable.

    ``full_pass(codes [N, h, w]) -> [N, h, w, K]`` gives at every position the distribution
    given the codes before it in raster order (e.g. a PixelCNN forward pass + softmax).
    Because the model is causal, its output at ``(i, j)`` stays valid until a code before
    ``(i, j)`` changes: the adapter re-runs ``full_pass`` only when the grid differs from
    the one of its last pass before the requested position, so a restoration costs
    ``1 + (number of positions where some slice changed)`` passes instead of ``h w``.
    """
    cache: dict[str, np.ndarray] = {}

    def conditional_probabilities(codes: np.ndarray, row: int, col: int) -> np.ndarray:
        codes = np.asarray(codes)
        flat = codes.reshape(codes.shape[0], -1)
        before = row * codes.shape[2] + col
        stale = (
            "codes" not in cache
            or cache["codes"].shape != flat.shape
            or not np.array_equal(cache["codes"][:, :before], flat[:, :before])
        )
        if stale:
            cache["codes"] = flat.copy()
            cache["probabilities"] = np.asarray(full_pass(codes))
        return cache["probabilities"][:, row, col]

    return conditional_probabilities


# ============================================================================ the three maps


def code_region(region, grid_shape) -> np.ndarray:
    """The code positions whose ``f x f`` block of pixels touches ``region``.

    Args:
        region: bool ``[N, H, W]`` (e.g. :func:`brain_region` with ``erosion=0``).
        grid_shape: ``(h, w)`` with ``H = f h`` and ``W = f w``.

    Returns:
        bool ``[N, h, w]``.

    The brain codes are :func:`brain_codes`; this is the block rule it uses.
    """
    region = _as_map_batch(region, "region").astype(bool)
    count, height, width = region.shape
    grid_height, grid_width = grid_shape
    if height % grid_height or width % grid_width:
        raise ValueError(
            f"the image {height}x{width} must be a multiple of the code grid "
            f"{grid_height}x{grid_width}"
        )
    rows, cols = height // grid_height, width // grid_width
    return region.reshape(count, grid_height, rows, grid_width, cols).any(axis=(2, 4))


def brain_codes(images, grid_shape) -> np.ndarray:
    """The brain codes: the codes whose ``f x f`` pixel block holds any brain pixel.

    ``code_region(brain_region(images, erosion=0), grid_shape)``: a block that touches the
    filled, uneroded brain (``x > metrics.BRAIN_THRESHOLD``) at one pixel or more.

    Why any pixel, and the uneroded brain: the brain codes are (1) where restoration may
    resample (:func:`anomaly_maps`), (2) the healthy validation codes whose probabilities
    set the restoration and flag thresholds (:func:`choose_restoration_threshold`), and
    (3) the codes that :func:`code_level_auroc` ranks. Every code whose block holds brain
    decodes part of the brain, and the maps are scored on every pixel of the eroded brain;
    a stricter rule would forbid healing the edge codes, whose blocks are part
    background, although their brain pixels are scored. The erosion keeps the
    skull-stripping edge out of the *pixel* evaluation only. (2) must be the same set as
    (1), since a threshold is a quantile of the codes it is applied to. Lesions are drawn
    inside the eroded brain, so every synthetic lesion code is a brain code.

    Args:
        images: ``[N, H, W, 1]`` or ``[N, H, W]`` intensities in ``[0, 1]``.
        grid_shape: ``(h, w)`` with ``H = f h`` and ``W = f w``.

    Returns:
        bool ``[N, h, w]``.
    """
    region = brain_region(images, erosion=0)
    return code_region(region[None] if region.ndim == 2 else region, grid_shape)


def restoration_region(
    code_probabilities, threshold: float, allowed=None, dilation: int | None = DEFAULT_FLAG_DILATION
) -> np.ndarray:
    """Where restoration may change codes: near what one prior pass flags.

    ``allowed & dilate(p < threshold & allowed, (2 d + 1) x (2 d + 1) square)`` with ``p``
    the probabilities of the observed codes in one causal pass; ``dilation=None`` gives
    ``allowed`` (every brain code). Confining the raster walk to the neighbourhood of what
    the prior flags keeps a resampled code from derailing every code after it (each
    replacement changes the context of the next codes, which may then fall below the
    threshold in turn); the dilation lets the interior of a lesion whose border is flagged
    be healed too.

    Args:
        code_probabilities: float ``[N, h, w]`` in ``[0, 1]``.
        threshold: the restoration threshold.
        allowed: optional bool ``[N, h, w]`` (e.g. :func:`brain_codes`).
        dilation: ``d >= 0`` codes, or None.

    Returns:
        bool ``[N, h, w]``.
    """
    probabilities = np.asarray(code_probabilities)
    if probabilities.ndim != 3:
        raise ValueError(f"code_probabilities must have shape [N, h, w], got {probabilities.shape}")
    allowed = (
        np.ones(probabilities.shape, bool)
        if allowed is None
        else np.broadcast_to(np.asarray(allowed, bool), probabilities.shape)
    )
    if dilation is None:
        return allowed.copy()
    if int(dilation) != dilation or dilation < 0:
        raise ValueError(f"dilation must be None or an integer >= 0, got {dilation}")
    flagged = (probabilities < threshold) & allowed
    if dilation:
        square = np.ones((1, 2 * int(dilation) + 1, 2 * int(dilation) + 1), bool)
        flagged = ndimage.binary_dilation(flagged, structure=square)
    return flagged & allowed


class AnomalyMaps(NamedTuple):
    """What :func:`anomaly_maps` computed for ``N`` slices and ``R`` restorations.

    Attributes:
        maps: method name (:data:`METHODS`) -> post-processed float32 map ``[N, H, W]``.
        region: bool ``[N, H, W]``: the eroded brain, where maps are evaluated.
        reconstructions: float32 ``[N, H, W, 1]``, the VQ-VAE's ``x_hat``.
        codes: int32 ``[N, h, w]``, the encoded slices.
        nll_bits: float32 ``[N, h, w]``, ``-log2 p(z_ij | z_<ij)`` of one prior pass.
        restoration: :class:`Restoration` with fields ``[R, N, h, w]``.
        healed: float32 ``[R, N, H, W, 1]``, the decoded healed grids.
        seconds: method name -> wall-clock seconds for the ``N`` slices (each method's
            whole chain: the likelihood and restoration include encoding).
        flag_bits: float32 ``[N, h, w]``, the blind-spot model's surprise in bits
            (:func:`oasis_helpers.blind_spot.surprise_bits`), or None without a flag model.
    """

    maps: dict[str, np.ndarray]
    region: np.ndarray
    reconstructions: np.ndarray
    codes: np.ndarray
    nll_bits: np.ndarray
    restoration: Restoration
    healed: np.ndarray
    seconds: dict[str, float]
    flag_bits: np.ndarray | None = None


def flag_probabilities(
    flag_model, codes, positions=None, smoothing: int = DEFAULT_FLAG_SMOOTHING
) -> tuple[np.ndarray, np.ndarray]:
    """The blind-spot model's flag scores of code grids, as probabilities.

    ``2 ** -B_s(b)``, where ``b = -log2 p(z_ij | surroundings)`` is
    :func:`oasis_helpers.blind_spot.surprise_bits` and ``B_s`` the mean over ``s x s``
    codes: the geometric mean of the probabilities around each code. A lesion of a few
    codes is surprising at all of them, a stray healthy code at one only.

    Args:
        flag_model: a model from :func:`oasis_helpers.blind_spot.make_blind_spot_model`.
        codes: int ``[N, h, w]``; positions: heights ``[N]`` or None (0.5).
        smoothing: ``s >= 1`` codes.

    Returns:
        ``(probabilities, bits)``, float ``[N, h, w]`` each: the smoothed probabilities,
        which :func:`choose_restoration_threshold` and :func:`restoration_region` take,
        and the unsmoothed surprise in bits.
    """
    from oasis_helpers import blind_spot

    if isinstance(smoothing, bool) or int(smoothing) != smoothing or smoothing < 1:
        raise ValueError(f"smoothing must be an integer >= 1 codes, got {smoothing}")
    bits = blind_spot.surprise_bits(flag_model, codes, positions)
    smoothed = ndimage.uniform_filter(bits, (1, int(smoothing), int(smoothing)))
    return np.exp2(-smoothed.astype(np.float64)), bits


def anomaly_maps(
    vqvae,
    prior_model,
    images,
    restoration_threshold: float,
    positions=None,
    num_restorations: int = DEFAULT_NUM_RESTORATIONS,
    seed: int = 0,
    temperature: float = 1.0,
    flag_dilation: int | None = DEFAULT_FLAG_DILATION,
    median_size: int = DEFAULT_MEDIAN_SIZE,
    erosion: int = DEFAULT_EROSION,
    likelihood_upsampling: str = "bilinear",
    likelihood_smoothing: int = DEFAULT_LIKELIHOOD_SMOOTHING,
    difference_smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
    flag_model=None,
    flag_threshold: float | None = None,
) -> AnomalyMaps:
    """The three anomaly maps of notebook 05 for ``images``, timed.

    * ``reconstruction``: ``|G_sigma * (x - x_hat)|`` (:func:`residual_map`);
    * ``likelihood``: the prior's ``-log2 p(z_ij | z_<ij)``, one causal pass, averaged over
      ``likelihood_smoothing x likelihood_smoothing`` codes (1: no averaging), brought to
      the image by :func:`upsample_grid_map` (``likelihood_upsampling``; bilinear scored a
      pixel AUROC of 0.611 against 0.582 for nearest on 32 validation slices of the demo
      cohort, median filter 5, same best Dice);
    * ``restoration``: ``R`` restorations with the fast sampler
      (:func:`restore_with_prior`, threshold ``restoration_threshold``), confined to
      :func:`restoration_region` of the brain codes (:func:`brain_codes`), each decoded;
      the map is the mean ``|G_sigma * (x - x_healed)|`` (:func:`restoration_map`). The
      region is the neighbourhood of the codes that ``flag_model`` (a blind-spot model)
      finds surprising, :func:`flag_probabilities` below ``flag_threshold``; without a
      flag model, of those that the prior's causal pass finds below
      ``restoration_threshold``.

    Each map goes through :func:`postprocess_map` (brain region, median filter).

    Args:
        vqvae: notebook 03's ``VQVAE`` (``encode``, ``decode``, ``reconstruct``).
        prior_model: notebook 04's ``GatedPixelCNN``.
        images: float32 ``[N, H, W, 1]`` in ``[0, 1]``.
        restoration_threshold: from :func:`choose_restoration_threshold` on healthy
            validation slices.
        positions: the slices' heights ``[N]`` (or one value) for a conditional prior.
        num_restorations: ``R >= 1``.
        seed: seeds the restorations (restoration ``r`` as in :func:`restore_repeatedly`).
        temperature, flag_dilation: of the replacements and of :func:`restoration_region`.
        median_size, erosion: of :func:`postprocess_map` and :func:`brain_region`.
        likelihood_upsampling: ``"bilinear"`` or ``"nearest"`` (:func:`upsample_grid_map`).
        likelihood_smoothing: side of the box mean over the NLL grid, in codes (>= 1).
        difference_smoothing: ``sigma`` in pixels of the residual and restoration maps
            (:data:`DEFAULT_DIFFERENCE_SMOOTHING`; 0: plain absolute differences).
        flag_model, flag_threshold: the blind-spot model that chooses the restoration
            region and its threshold (from :func:`choose_restoration_threshold` on the
            :func:`flag_probabilities` of healthy validation codes); both or neither.
    """
    import time

    from oasis_helpers import prior

    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must have shape [N, H, W, 1], got {images.shape}")
    if isinstance(likelihood_smoothing, bool) or int(likelihood_smoothing) < 1:
        raise ValueError(
            f"likelihood_smoothing must be an integer >= 1, got {likelihood_smoothing}"
        )
    if (flag_model is None) != (flag_threshold is None):
        raise ValueError("pass flag_model and flag_threshold together (or neither)")
    region = brain_region(images, erosion=erosion)
    seconds = {}
    start = time.perf_counter()
    reconstructions = np.asarray(vqvae.reconstruct(images), np.float32)
    seconds["reconstruction"] = time.perf_counter() - start
    start = time.perf_counter()
    codes = np.asarray(vqvae.encode(images), np.int32)
    nll_bits = prior.nll_map_bits(prior_model, codes, positions)
    seconds["likelihood"] = time.perf_counter() - start
    start = time.perf_counter()
    allowed = brain_codes(images, codes.shape[1:])
    flag_bits = None
    if flag_model is None:
        flags, flag_threshold = 2.0**-nll_bits, restoration_threshold
    else:
        flags, flag_bits = flag_probabilities(flag_model, codes, positions)
    changeable = restoration_region(flags, flag_threshold, allowed, flag_dilation)

    def restore(grids, threshold, seed):
        return restore_with_prior(
            prior_model,
            grids,
            threshold,
            seed,
            positions=positions,
            temperature=temperature,
            region=changeable,
        )

    restoration = restore_repeatedly(codes, restore, restoration_threshold, num_restorations, seed)
    healed = np.stack([np.asarray(vqvae.decode(grids), np.float32) for grids in restoration.codes])
    seconds["restoration"] = seconds["likelihood"] + time.perf_counter() - start
    image_size = images.shape[1:3]
    raw = {
        "reconstruction": residual_map(images, reconstructions, difference_smoothing),
        "likelihood": upsample_grid_map(
            ndimage.uniform_filter(nll_bits, (1, likelihood_smoothing, likelihood_smoothing)),
            image_size,
            likelihood_upsampling,
        ),
        "restoration": restoration_map(images, healed, smoothing=difference_smoothing),
    }
    maps = {name: postprocess_map(raw[name], region, median_size) for name in METHODS}
    return AnomalyMaps(
        maps, region, reconstructions, codes, nll_bits, restoration, healed, seconds, flag_bits
    )


# ============================================================================ evaluation


def _region_values(maps, masks, region) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of the evaluated pixels (all pixels when ``region`` is None)."""
    maps = _as_map_batch(maps, "maps")
    masks = _as_map_batch(masks, "masks").astype(bool)
    _check_same_shape(maps=maps, masks=masks)
    if region is None:
        return maps.ravel().astype(np.float64), masks.ravel()
    region = _as_map_batch(region, "region").astype(bool)
    _check_same_shape(maps=maps, region=region)
    return maps[region].astype(np.float64), masks[region]


def _need_both_classes(labels: np.ndarray, what: str) -> None:
    positives = int(labels.sum())
    if positives == 0 or positives == labels.size:
        raise ValueError(
            f"{what} needs both lesion and healthy {what.split()[0]}s in the evaluated set, "
            f"got {positives} lesion of {labels.size}"
        )


def pixel_auroc(maps, masks, region=None) -> float:
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


def pixel_auprc(maps, masks, region=None) -> float:
    """Area under the precision-recall curve (average precision) of pixel scores."""
    from sklearn.metrics import average_precision_score

    scores, labels = _region_values(maps, masks, region)
    _need_both_classes(labels, "pixel AUPRC")
    return float(average_precision_score(labels, scores))


def best_dice(maps, masks, region=None) -> tuple[float, float]:
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


def dice_at_threshold(maps, masks, threshold: float, region=None) -> float:
    """Pooled Dice ``2 |pred & lesion| / (|pred| + |lesion|)`` with ``pred = map >= threshold``.

    Returns 1.0 when both the prediction and the lesion masks are empty.
    """
    scores, labels = _region_values(maps, masks, region)
    predicted = scores >= threshold
    denominator = int(predicted.sum()) + int(labels.sum())
    if denominator == 0:
        return 1.0
    return float(2 * np.count_nonzero(predicted & labels) / denominator)


def choose_dice_threshold(validation_maps, validation_masks, validation_region=None) -> float:
    """The map threshold that maximises the pooled Dice on validation slices.

    Validation slices carry synthetic lesions (never the evaluated slices); apply the
    threshold to the test maps with :func:`dice_at_threshold`.
    """
    return best_dice(validation_maps, validation_masks, validation_region)[1]


def covered_codes(masks, grid_shape, coverage: float = 0.25) -> np.ndarray:
    """The codes whose ``f x f`` pixel block lies at least ``coverage`` in the mask.

    Args:
        masks: bool ``[N, H, W]`` with ``H = f h`` and ``W = f w``.
        grid_shape: ``(h, w)``.
        coverage: in ``(0, 1]`` (``1 / f**2``: every code a mask pixel touches, like
            :func:`code_region`).

    Returns:
        bool ``[N, h, w]``.

    The lesion codes are :func:`lesion_codes`, this at :data:`LESION_CODE_COVERAGE`.
    """
    masks = np.asarray(masks, bool)
    height, width = grid_shape
    factor = masks.shape[1] // height if masks.ndim == 3 and height else 0
    if factor < 1 or masks.shape[1:] != (height * factor, width * factor):
        raise ValueError(f"masks {masks.shape} are not a whole multiple of the grids {grid_shape}")
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    blocks = masks.reshape(len(masks), height, factor, width, factor)
    return blocks.mean(axis=(2, 4)) >= coverage


def lesion_codes(masks, grid_shape) -> np.ndarray:
    """The lesion codes: the codes whose ``f x f`` pixel block lies at least a quarter
    (:data:`LESION_CODE_COVERAGE`) in the lesion mask.

    ``covered_codes(masks, grid_shape, LESION_CODE_COVERAGE)``. A code the mask only
    touches (one pixel of a lesion's soft rim, where the blend weight falls to
    :data:`MIN_ALPHA`) is not one: it counts among the other, healthy brain codes.

    Why a quarter and not any pixel: the lesion codes are (1) the positives of
    :func:`code_level_auroc`, which measures how well a flagger finds what restoration must
    heal, (2) the oracle region of ``benchmarks/anomaly.py`` (the lesion codes and their
    neighbours, as :func:`restoration_region` dilates flags), and (3) the lesion codes that
    notebook 05 and the benchmark count restoration as resampling. A code summarises its
    block, so a block of a few faint lesion pixels in healthy tissue is usually encoded
    as its healthy self: there is nothing in the code grid for a flagger to find, and
    counting such codes would score every flagger, and every restoration, on codes the
    grid does not tell apart from healthy ones. A block a quarter covered is one the
    lesion changes; the dilation of the restoration region (and of the oracle) still
    reaches the touched codes next to it.

    Args:
        masks: bool ``[N, H, W]`` with ``H = f h`` and ``W = f w``.
        grid_shape: ``(h, w)``.

    Returns:
        bool ``[N, h, w]``.
    """
    return covered_codes(masks, grid_shape, LESION_CODE_COVERAGE)


def code_level_auroc(code_scores, masks, allowed) -> float:
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


def slice_scores(maps, region=None, statistic: str = "percentile", percentile: float = 99.0):
    """One anomaly score per slice from its map, inside ``region``.

    * ``"mean"``: mean of the map over the region's pixels;
    * ``"percentile"``: the ``percentile``-th percentile of those pixels (a top-``1%``
      score by default: a small lesion barely moves the mean).

    Slices with an empty region score 0.

    Returns:
        float64 ``[N]``.
    """
    maps = _as_map_batch(maps, "maps").astype(np.float64)
    if region is None:
        region = np.ones(maps.shape, bool)
    region = _as_map_batch(region, "region").astype(bool)
    _check_same_shape(maps=maps, region=region)
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


def slice_auroc(scores, has_lesion) -> float:
    """AUROC of slice scores ``[N]`` for slices with a lesion (True) against clean slices."""
    from sklearn.metrics import roc_auc_score

    scores, has_lesion = np.asarray(scores, np.float64), np.asarray(has_lesion, bool)
    _check_same_shape(scores=scores, has_lesion=has_lesion)
    _need_both_classes(has_lesion, "slice AUROC")
    return float(roc_auc_score(has_lesion, scores))


def evaluate_map(
    maps,
    masks,
    region,
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
    masks = _as_map_batch(masks, "masks").astype(bool)
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
