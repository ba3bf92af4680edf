"""The embedded demo cohort: a stand-in for OASIS built from the MNI152 template.

The series must run anywhere without downloading anything, so when no
``data_dir`` is given the notebooks use synthetic "subjects" made from the
MNI ICBM152 2009 T1 template (and its grey- and white-matter probability maps)
that ship inside the nilearn wheel. **This is not OASIS**: every subject is the
same template brain, varied by

* a smooth random 3D deformation ``u(p)``: a coarse grid of Gaussian random
  displacements (one control point every ``control_spacing_mm``) interpolated
  with cubic splines, so anatomy bends a few millimetres without tearing;
* a small affine ``A``: rotation, anisotropic scaling and a shift;
* an intensity curve: ``v' = b(p) * v ** gamma`` with a per-subject gamma and a
  smooth multiplicative bias field ``b`` (like the gain field of an MR coil),
  a little Gaussian noise inside the brain, then robust scaling to ``[0, 1]``.

A subject's voxel ``p`` (in output, i.e. subject, space) is read from the
template at ``A (p - c) + c + s + u(p)`` where ``c`` is the brain centre and
``s`` the shift. Only the axial planes that are kept are evaluated, which keeps
building fast. The slices are framed like the OASIS PNG slices (brain centred,
filling about 70% of a square frame) and quantized to 8 bits like those PNGs.

Tissue masks (0 background, 1 CSF, 2 grey matter, 3 white matter; the OASIS
label convention) come from the template's tissue maps (CSF: brain voxels that
are neither grey nor white matter) warped by the same transform.

Cohorts are deterministic from their seed and cached as ``.npz`` under
``$OASIS_VQVAE_CACHE`` (default ``~/.cache/oasis-vqvae``), keyed by every
parameter, so a second run loads in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers import runs
from oasis_helpers.data.slicing import DEFAULT_BRAIN_FILL, DEFAULT_SLICE_RANGE

SPLITS = ("train", "validate", "test")

#: Bump when the generator changes, so old cache files are not reused.
DEMO_VERSION = 5

#: The label used in every title, info dict and notebook that shows demo data.
DEMO_LABEL = "demo cohort (MNI152 template under random deformations): a stand-in, not OASIS"

#: Subjects per split and slices per subject of the default and the smoke cohorts.
DEFAULT_SUBJECTS = {"train": 24, "validate": 4, "test": 4}
DEFAULT_SLICES_PER_SUBJECT = 24
SMOKE_SUBJECTS = {"train": 3, "validate": 1, "test": 1}
SMOKE_SLICES_PER_SUBJECT = 8


@dataclass(frozen=True)
class DemoConfig:
    """Every parameter of a demo cohort (the cache key is built from all of them).

    Attributes:
        subjects: number of synthetic subjects per split (distinct subjects).
        slices_per_subject: axial slices kept per subject, evenly spaced over
            ``slice_range``.
        image_size: side of the square output slices in pixels.
        seed: the cohort's seed; subject ``k`` draws from ``rng([seed, k])``.
        slice_range: kept part of the brain's inferior-superior extent, as
            fractions (0 = lowest brain voxel, 1 = top of the brain).
        control_spacing_mm: spacing of the deformation's control points.
        deformation_mm: standard deviation of each control-point displacement.
        rotation_deg: maximum in-plane rotation (out-of-plane: a third of it).
        scale_range: maximum relative scaling per axis (0.08 = +-8%).
        shift_mm: maximum shift per axis.
        gamma_range: range of the intensity gamma.
        bias_strength: amplitude of the multiplicative bias field.
        noise_std: standard deviation of the Gaussian noise inside the brain.
        brain_fill: fraction of the frame side that the template brain spans.
    """

    subjects: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SUBJECTS))
    slices_per_subject: int = DEFAULT_SLICES_PER_SUBJECT
    image_size: int = 256
    seed: int = 42
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE
    control_spacing_mm: float = 24.0
    deformation_mm: float = 2.5
    rotation_deg: float = 6.0
    scale_range: float = 0.08
    shift_mm: float = 4.0
    gamma_range: tuple[float, float] = (0.8, 1.25)
    bias_strength: float = 0.1
    noise_std: float = 0.012
    brain_fill: float = DEFAULT_BRAIN_FILL

    def __post_init__(self) -> None:
        unknown = set(self.subjects) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)} in subjects; use {SPLITS}")
        if any(int(count) < 0 for count in self.subjects.values()):
            raise ValueError(f"subject counts must be >= 0, got {self.subjects}")
        if self.slices_per_subject < 1:
            raise ValueError(f"slices_per_subject must be >= 1, got {self.slices_per_subject}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8 pixels, got {self.image_size}")
        low, high = self.slice_range
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(
                f"slice_range must satisfy 0 <= low < high <= 1, got {self.slice_range}"
            )
        if not 0.1 <= self.brain_fill <= 1.0:
            raise ValueError(f"brain_fill must be in [0.1, 1], got {self.brain_fill}")

    def key(self) -> str:
        """A short hash of every parameter and the generator version (the cache key)."""
        payload = json.dumps({"version": DEMO_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def demo_config(
    image_size: int = 256, seed: int = 42, smoke: bool = False, **overrides
) -> DemoConfig:
    """The default (or, with ``smoke=True``, the tiny) cohort's configuration.

    Default: 24 / 4 / 4 subjects x 24 slices (576 / 96 / 96 slices). Smoke:
    3 / 1 / 1 subjects x 8 slices (24 / 8 / 8). ``overrides`` replace any
    :class:`DemoConfig` field, e.g. ``subjects={"train": 48, ...}``.
    """
    base = {
        "subjects": dict(SMOKE_SUBJECTS if smoke else DEFAULT_SUBJECTS),
        "slices_per_subject": SMOKE_SLICES_PER_SUBJECT if smoke else DEFAULT_SLICES_PER_SUBJECT,
    }
    base.update(overrides)
    if "subjects" in overrides:
        base["subjects"] = {split: int(overrides["subjects"].get(split, 0)) for split in SPLITS}
    if "slice_range" in base:
        base["slice_range"] = tuple(float(value) for value in base["slice_range"])
    if "gamma_range" in base:
        base["gamma_range"] = tuple(float(value) for value in base["gamma_range"])
    return DemoConfig(image_size=int(image_size), seed=int(seed), **base)


def cache_dir() -> Path:
    """Folder of cached cohorts: ``$OASIS_VQVAE_CACHE`` or ``~/.cache/oasis-vqvae``."""
    configured = os.environ.get("OASIS_VQVAE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "oasis-vqvae"


# ----------------------------------------------------------------------------- template


@dataclass
class _Template:
    """The template cropped to the brain: T1 ``[X, Y, Z]`` in [0, 1] and tissue labels."""

    t1: np.ndarray  # float32 [X, Y, Z], RAS voxel axes, 1 mm
    labels: np.ndarray  # uint8 [X, Y, Z], 0 bg, 1 CSF, 2 GM, 3 WM
    brain_low_z: int  # first and last axial plane holding brain
    brain_high_z: int
    centre: np.ndarray  # float [3], centre of the brain bounding box (voxels)
    extent: np.ndarray  # float [3], size of the brain bounding box (voxels)


_TEMPLATE_CACHE: dict[str, _Template] = {}


_MNI152_FILES = (
    "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
)


def read_mni152_files() -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]
]:
    """The MNI152 T1, grey- and white-matter templates: float32 ``[197, 233, 189]`` in [0, 1].

    These are the files behind ``nilearn.datasets.load_mni152_template()``,
    ``load_mni152_gm_template()`` and ``load_mni152_wm_template()`` at their native
    1 mm resolution, inside the nilearn wheel (no network). They are read with
    nibabel directly when found, which skips importing ``nilearn.datasets`` (a few
    seconds); otherwise the nilearn functions are called.
    """
    import importlib.util

    import nibabel as nib

    spec = importlib.util.find_spec("nilearn")
    if spec is None:
        raise ImportError(
            "the demo cohort needs nilearn (it ships the MNI152 template): pip install nilearn"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    paths = [folder / name for name in _MNI152_FILES]
    if all(path.exists() for path in paths):
        volumes = [np.asarray(nib.load(path).dataobj, dtype=np.float32) for path in paths]
        # scaled by their maxima, exactly like the nilearn loaders
        return tuple(volume / max(float(volume.max()), 1e-6) for volume in volumes)
    from nilearn.datasets import (
        load_mni152_gm_template,
        load_mni152_template,
        load_mni152_wm_template,
    )

    loaders = (load_mni152_template, load_mni152_gm_template, load_mni152_wm_template)
    return tuple(np.asarray(loader().dataobj, dtype=np.float32) for loader in loaders)


def load_template() -> _Template:
    """Load the MNI152 T1 and tissue templates shipped with nilearn (no network).

    The T1 is scaled to ``[0, 1]``; tissue labels are the argmax of (CSF = brain
    minus grey minus white, grey, white) inside the brain (T1 > 0.02). The result
    is cropped to the brain's bounding box plus a 4-voxel zero margin and kept in
    memory for the rest of the session.
    """
    if "mni152" in _TEMPLATE_CACHE:
        return _TEMPLATE_CACHE["mni152"]
    t1, grey, white = read_mni152_files()
    t1 /= max(float(t1.max()), 1e-6)

    brain = t1 > 0.02
    csf = np.clip(1.0 - grey - white, 0.0, 1.0)
    labels = (np.argmax(np.stack([csf, grey, white]), axis=0) + 1).astype(np.uint8)
    labels[~brain] = 0

    corners = np.argwhere(brain)
    low, high = corners.min(axis=0), corners.max(axis=0)
    margin = 4
    start = np.maximum(low - margin, 0)
    stop = np.minimum(high + margin + 1, brain.shape)
    crop = tuple(slice(begin, end) for begin, end in zip(start, stop, strict=True))
    template = _Template(
        t1=np.ascontiguousarray(t1[crop]),
        labels=np.ascontiguousarray(labels[crop]),
        brain_low_z=int(low[2] - start[2]),
        brain_high_z=int(high[2] - start[2]),
        centre=(low + high) / 2.0 - start,
        extent=(high - low + 1).astype(float),
    )
    _TEMPLATE_CACHE["mni152"] = template
    return template


# ----------------------------------------------------------------------------- one subject


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


def _plane_positions(template: _Template, config: DemoConfig, rng: np.random.Generator):
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
    subject_index: int, config: DemoConfig, template: _Template | None = None
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


# ----------------------------------------------------------------------------- the cohort


@dataclass
class DemoCohort:
    """A built (or cached) demo cohort.

    Attributes:
        config: the parameters it was built from.
        images: per split, uint8 ``[N, S, S]`` (divide by 255 for ``[0, 1]``).
        masks: per split, uint8 ``[N, S, S]`` labels 0 bg, 1 CSF, 2 GM, 3 WM.
        subject_ids: per split, str ``[N]`` (``demo000``, ``demo001``, ...).
        slice_ids: per split, int32 ``[N]`` (0 = most inferior kept slice).
        seconds: time spent building or loading it.
        from_cache: whether it was read from the cache file.
        path: the cache file (``None`` when caching was off).
    """

    config: DemoConfig
    images: dict[str, npt.NDArray[np.uint8]]
    masks: dict[str, npt.NDArray[np.uint8]]
    subject_ids: dict[str, npt.NDArray[np.str_]]
    slice_ids: dict[str, npt.NDArray[np.int32]]
    seconds: float
    from_cache: bool
    path: Path | None


def _subject_indices(config: DemoConfig) -> dict[str, list[int]]:
    """Distinct subject numbers per split: train first, then validate, then test."""
    indices, start = {}, 0
    for split in SPLITS:
        count = int(config.subjects.get(split, 0))
        indices[split] = list(range(start, start + count))
        start += count
    return indices


def _read_cache(path: Path, config: DemoConfig) -> DemoCohort | None:
    """Read a cached cohort, or ``None`` when the file is missing or unreadable."""
    if not path.exists():
        return None
    begin = time.perf_counter()
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != config.key():
                return None
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # a damaged cache file is rebuilt, never trusted
    return DemoCohort(
        config=config,
        images={split: arrays[f"images_{split}"] for split in SPLITS},
        masks={split: arrays[f"masks_{split}"] for split in SPLITS},
        subject_ids={split: arrays[f"subject_ids_{split}"].astype(str) for split in SPLITS},
        slice_ids={split: arrays[f"slice_ids_{split}"].astype(np.int32) for split in SPLITS},
        seconds=time.perf_counter() - begin,
        from_cache=True,
        path=path,
    )


def write_cache(path: Path, cohort: DemoCohort) -> None:
    """Write the cohort atomically (``runs.atomic_replacement``: a temporary file renamed
    into place)."""
    arrays = {"key": np.array(cohort.config.key())}
    for split in SPLITS:
        arrays[f"images_{split}"] = cohort.images[split]
        arrays[f"masks_{split}"] = cohort.masks[split]
        arrays[f"subject_ids_{split}"] = cohort.subject_ids[split].astype("U")
        arrays[f"slice_ids_{split}"] = cohort.slice_ids[split]
    with runs.atomic_replacement(path) as temporary:
        np.savez_compressed(temporary, **arrays)


def build_demo_cohort(
    config: DemoConfig | None = None,
    use_cache: bool = True,
    cache_folder: str | os.PathLike | None = None,
    workers: int | None = None,
) -> DemoCohort:
    """Build the demo cohort described by ``config`` (or load it from the cache).

    Args:
        config: the cohort parameters; :func:`demo_config` defaults when ``None``.
        use_cache: read ``<cache>/demo-<key>.npz`` when it exists and write it
            after building.
        cache_folder: where cached cohorts live (default :func:`cache_dir`).
        workers: threads building subjects in parallel (default: CPU count).

    Returns:
        A :class:`DemoCohort`; identical arrays for identical ``config``.
    """
    config = config or demo_config()
    folder = Path(cache_folder).expanduser() if cache_folder is not None else cache_dir()
    path = folder / f"demo-{config.key()}.npz" if use_cache else None
    if path is not None:
        cached = _read_cache(path, config)
        if cached is not None:
            return cached

    begin = time.perf_counter()
    template = load_template()
    indices = _subject_indices(config)
    every = [index for split in SPLITS for index in indices[split]]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        subjects = pool.map(lambda k: build_subject(k, config, template), every)
        built = dict(zip(every, subjects, strict=True))

    size, count = config.image_size, config.slices_per_subject
    images, masks, subject_ids, slice_ids = {}, {}, {}, {}
    for split in SPLITS:
        chosen = indices[split]
        if chosen:
            images[split] = np.concatenate([built[k][0] for k in chosen])
            masks[split] = np.concatenate([built[k][1] for k in chosen])
        else:
            images[split] = np.zeros((0, size, size), np.uint8)
            masks[split] = np.zeros((0, size, size), np.uint8)
        subject_ids[split] = np.repeat([f"demo{k:03d}" for k in chosen], count).astype(str)
        slice_ids[split] = np.tile(np.arange(count, dtype=np.int32), len(chosen))
    cohort = DemoCohort(
        config=config,
        images=images,
        masks=masks,
        subject_ids=subject_ids,
        slice_ids=slice_ids,
        seconds=time.perf_counter() - begin,
        from_cache=False,
        path=path,
    )
    if path is not None:
        try:
            write_cache(path, cohort)
        except OSError as error:  # a read-only home must not stop the series
            import warnings

            warnings.warn(f"could not cache the demo cohort at {path}: {error}", stacklevel=2)
            cohort.path = None
    return cohort
