"""Synthetic lesions for evaluation, drawn into the brain region where maps are scored.

:func:`brain_region` is ``x > threshold`` (``metrics.BRAIN_THRESHOLD``), holes filled,
eroded by a disk of radius ``erosion`` pixels (the skull-stripping edge is where every
model errs; it is not a lesion; Baur et al. 2021, "Autoencoders for unsupervised anomaly
segmentation in brain MR images: a comparative study"). Lesions are drawn inside it and
the anomaly maps are evaluated on it.

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
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.anomaly.inputs import as_image_batch
from oasis_helpers.metrics import BRAIN_THRESHOLD

__all__ = [
    "DEFAULT_EROSION",
    "MIN_ALPHA",
    "brain_region",
    "outline_radius",
    "smoothstep",
    "synthesize_lesions",
]

#: Radius (pixels) of the disk that erodes the thresholded brain mask.
DEFAULT_EROSION = 3


#: Blend weights below this are set to 0, so every masked pixel changes by at least
#: ``MIN_ALPHA * |delta|`` (unless clipped at 0 or 1).
MIN_ALPHA = 0.1


def _disk(radius: int) -> np.ndarray:
    rows, cols = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return rows**2 + cols**2 <= radius**2


def brain_region(
    images: npt.ArrayLike, threshold: float = BRAIN_THRESHOLD, erosion: int = DEFAULT_EROSION
) -> npt.NDArray[np.bool_]:
    """The brain of the anomaly maps: ``erode(fill_holes(x > threshold), disk(erosion))``, per
    slice.

    Used where lesions are drawn (:func:`synthesize_lesions`), where the maps are
    post-processed and scored (:func:`oasis_helpers.anomaly.postprocess_map`,
    :func:`oasis_helpers.anomaly.anomaly_maps`, notebook 05's evaluation) and, with
    ``erosion=0``, which codes are brain (:func:`oasis_helpers.anomaly.brain_codes`).
    Eroded because the skull-stripping edge is where every model errs, and it is not a
    lesion (Baur et al. 2021); filled so that the dark ventricles inside count as brain.
    Not :func:`oasis_helpers.metrics.brain_mask`, the brain of the reconstruction scores,
    which is dilated instead: a reconstruction must be scored on that edge.

    Args:
        images: ``[N, H, W, 1]``, ``[N, H, W]``, ``[H, W, 1]`` or ``[H, W]`` intensities.
        threshold: intensity above which a pixel is brain.
        erosion: radius in pixels of the eroding disk; 0 keeps the filled mask.

    Returns:
        bool ``[N, H, W]`` (``[H, W]`` for one slice).
    """
    batch, single = as_image_batch(images)
    if erosion < 0:
        raise ValueError(f"erosion must be >= 0 pixels, got {erosion}")
    per_slice = np.zeros((3, 3, 3), bool)
    per_slice[1] = ndimage.generate_binary_structure(2, 1)  # no connection across slices
    region = ndimage.binary_fill_holes(batch > threshold, structure=per_slice)
    if erosion:
        region = ndimage.binary_erosion(region, structure=_disk(erosion)[None])
    return region[0] if single else region


def smoothstep(values: np.ndarray) -> np.ndarray:
    """``3t^2 - 2t^3`` of ``t`` clipped to ``[0, 1]``: a blend weight with flat ends."""
    values = np.clip(values, 0.0, 1.0)
    return values * values * (3.0 - 2.0 * values)


def outline_radius(
    half: int,
    axis_a: float,
    axis_b: float,
    angle: float,
    amplitudes: np.ndarray,
    phases: np.ndarray,
) -> np.ndarray:
    """``rho / outline(phi)`` on a ``[2 half + 1, 2 half + 1]`` patch centred on a blob:
    below 1 inside, 1 on the outline.

    ``rho`` and ``phi`` are the polar coordinates in the frame of an ellipse of semi-axes
    ``axis_a`` (rotated by ``angle``) and ``axis_b``; ``outline(phi) = 1 + sum_k a_k
    cos(k phi + phi_k)`` over harmonics ``k = 2, 3, ...`` (one per amplitude).
    """
    harmonics = np.arange(2, 2 + len(amplitudes))
    rows, cols = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    along = cols * np.cos(angle) + rows * np.sin(angle)
    across = -cols * np.sin(angle) + rows * np.cos(angle)
    rho = np.hypot(along / axis_a, across / axis_b)
    phi = np.arctan2(across / axis_b, along / axis_a)
    outline = 1.0 + np.sum(
        amplitudes[:, None, None] * np.cos(harmonics[:, None, None] * phi + phases[:, None, None]),
        axis=0,
    )
    return rho / outline


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
    alpha = smoothstep(
        (1.0 - outline_radius(half, axis_a, axis_b, angle, amplitudes, phases)) / softness
    )
    alpha[alpha < MIN_ALPHA] = 0.0
    return alpha, half


def synthesize_lesions(
    images: npt.ArrayLike,
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
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
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
    batch, single = as_image_batch(images)
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
