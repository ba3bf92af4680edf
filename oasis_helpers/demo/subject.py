"""One synthetic demo subject (:func:`build_subject`): the template under a random smooth
deformation, a small affine and an intensity curve, sampled at the kept axial planes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.demo.config import DemoConfig
from oasis_helpers.demo.template import BrainTemplate, load_template

__all__ = [
    "build_subject",
]


def _random_affine(rng: np.random.Generator, config: DemoConfig) -> tuple[np.ndarray, np.ndarray]:
    """A small random affine: ``(matrix [3, 3], shift [3])`` in voxel (mm) units."""
    in_plane = np.deg2rad(rng.uniform(-1.0, 1.0) * config.rotation_deg)
    tilt_x, tilt_y = np.deg2rad(rng.uniform(-1.0, 1.0, size=2) * config.rotation_deg / 3.0)
    rotate_z = np.array(
        [
            [np.cos(in_plane), -np.sin(in_plane), 0],
            [np.sin(in_plane), np.cos(in_plane), 0],
            [0, 0, 1],
        ]
    )
    rotate_x = np.array(
        [[1, 0, 0], [0, np.cos(tilt_x), -np.sin(tilt_x)], [0, np.sin(tilt_x), np.cos(tilt_x)]]
    )
    rotate_y = np.array(
        [[np.cos(tilt_y), 0, np.sin(tilt_y)], [0, 1, 0], [-np.sin(tilt_y), 0, np.cos(tilt_y)]]
    )
    # A global size factor plus a smaller per-axis one: head sizes differ more than shapes.
    size = rng.uniform(-1.0, 1.0) * config.scale_range
    scales = 1.0 + size + rng.uniform(-0.5, 0.5, size=3) * config.scale_range
    matrix = rotate_z @ rotate_x @ rotate_y @ np.diag(scales)
    shift = rng.uniform(-1.0, 1.0, size=3) * config.shift_mm
    shift[2] *= 0.5
    return matrix, shift


def _coarse_field(
    rng: np.random.Generator, shape: tuple[int, ...], spacing: float, components: int
) -> np.ndarray:
    """Gaussian random values on a control grid covering ``shape`` (voxels).

    Returns ``[components, gx, gy, gz]`` float64, lightly smoothed so neighbouring
    control points move together.
    """
    grid = tuple(int(np.ceil(extent / spacing)) + 3 for extent in shape)
    values = rng.normal(size=(components, *grid))
    for component in range(components):
        values[component] = ndimage.gaussian_filter(values[component], sigma=0.7, mode="nearest")
        values[component] /= max(float(values[component].std()), 1e-6)
    return values


def _sample_coarse(values: np.ndarray, points: np.ndarray, spacing: float) -> np.ndarray:
    """Cubic-spline interpolation of control values at ``points [3, ...]`` (voxels)."""
    grid_points = points / spacing + 1.0  # control point 1 sits at voxel 0
    return np.stack(
        [
            ndimage.map_coordinates(component, grid_points, order=3, mode="nearest")
            for component in values
        ]
    )


def _linear_upsampling_matrix(coarse_size: int, size: int) -> np.ndarray:
    """``[size, coarse_size]`` float32 weights of linear interpolation between pixel centres.

    Fine pixel ``i`` sits at coarse coordinate ``(i + 0.5) * coarse_size / size - 0.5``
    (both grids span the same frame). Beyond the outer centres the nearest two
    coarse values are extrapolated linearly, so an affine map stays exact.
    """
    position = (np.arange(size) + 0.5) * coarse_size / size - 0.5
    left = np.clip(np.floor(position).astype(int), 0, coarse_size - 2)
    weight = position - left
    matrix = np.zeros((size, coarse_size), np.float32)
    matrix[np.arange(size), left] = 1.0 - weight
    matrix[np.arange(size), left + 1] = weight
    return matrix


def _plane_positions(template: BrainTemplate, config: DemoConfig, rng: np.random.Generator):
    """Axial plane positions (template voxels) of one subject's kept slices."""
    low, high = config.slice_range
    extent = template.brain_high_z - template.brain_low_z
    jitter = rng.uniform(-0.02, 0.02) * extent
    return (
        template.brain_low_z
        + jitter
        + np.linspace(low * extent, high * extent, config.slices_per_subject)
    )


def build_subject(
    subject_index: int, config: DemoConfig, template: BrainTemplate | None = None
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Build one synthetic subject's kept axial slices.

    Args:
        subject_index: the subject's number in the cohort (its random stream is
            ``np.random.default_rng([config.seed, subject_index])``).
        config: the cohort configuration.
        template: the loaded template (loaded when ``None``).

    Returns:
        ``(images, masks)``: uint8 ``[slices, S, S]`` intensities (0..255, i.e.
        ``[0, 1]`` after dividing by 255) and uint8 ``[slices, S, S]`` labels
        (0 bg, 1 CSF, 2 GM, 3 WM), ordered inferior to superior, anterior at the
        top of each image.
    """
    template = template or load_template()
    rng = np.random.default_rng([config.seed, subject_index])
    size = config.image_size
    side_mm = float(max(template.extent[0], template.extent[1])) / config.brain_fill
    planes = _plane_positions(template, config, rng)

    # Output (subject-space) points in template voxels on a coarse in-plane grid:
    # columns run along x (left to right), rows along -y (anterior at the top), one
    # plane per slice. Everything smooth is computed there and upsampled linearly.
    coarse_size = max(size // 8, 8)
    offsets = (np.arange(coarse_size) - (coarse_size - 1) / 2.0) * (side_mm / coarse_size)
    x_values = (template.centre[0] + offsets)[None, None, :]
    y_values = (template.centre[1] - offsets)[None, :, None]
    points = np.stack(np.broadcast_arrays(x_values, y_values, planes[:, None, None]))

    displacement_values = _coarse_field(rng, template.t1.shape, config.control_spacing_mm, 3)
    bias_values = _coarse_field(rng, template.t1.shape, config.control_spacing_mm * 2, 1)
    displacement = config.deformation_mm * _sample_coarse(
        displacement_values, points, config.control_spacing_mm
    )
    bias_field = _sample_coarse(bias_values, points, config.control_spacing_mm * 2)

    # source(p) = A (p - c) + c + s + u(p): where subject point p is read from the template.
    matrix, shift = _random_affine(rng, config)
    centre = template.centre[:, None, None, None]
    centred = (points - centre).reshape(3, -1)
    coarse_source = (matrix @ centred).reshape(points.shape) + centre + shift[:, None, None, None]
    coarse = np.concatenate([coarse_source + displacement, bias_field]).astype(np.float32)
    upsample = _linear_upsampling_matrix(coarse_size, size)
    fine = np.einsum("rk,cpkl,sl->cprs", upsample, coarse, upsample, optimize=True)
    source = fine[:3].reshape(3, -1)

    # Only points inside the cropped template can hit brain (it has a zero margin):
    # interpolating just those halves the work.
    upper = np.array(template.t1.shape, np.float32)[:, None] - 1.0
    inside = np.flatnonzero(np.all((source >= 0.0) & (source <= upper), axis=0))
    within = source[:, inside]
    values = ndimage.map_coordinates(template.t1, within, order=1, prefilter=False)
    labels = ndimage.map_coordinates(template.labels, within, order=0, prefilter=False)

    # Intensity curve on brain voxels only (the background stays exactly 0).
    brain = values > 0.02
    inside, values, labels = inside[brain], values[brain], labels[brain]
    gamma = rng.uniform(*config.gamma_range)
    bias = 1.0 + config.bias_strength * np.tanh(fine[3].reshape(-1)[inside])
    values = np.power(values, gamma) * bias.astype(np.float32)
    values += rng.normal(scale=config.noise_std, size=values.shape).astype(np.float32)
    top = float(np.percentile(values, 99.5)) if values.size else 1.0
    values = np.clip(values / max(top, 1e-6), 0.0, 1.0)

    images = np.zeros(len(planes) * size * size, np.uint8)
    masks = np.zeros(len(planes) * size * size, np.uint8)
    images[inside] = np.round(values * 255.0).astype(np.uint8)
    masks[inside] = labels
    shape = (len(planes), size, size)
    return images.reshape(shape), masks.reshape(shape)
