"""Volume layouts (OASIS-1 Analyze 7.5 and NIfTI): finding, splitting by subject,
reading, reorienting, scaling and cutting axial slices.

Volumes are split by subject with a seeded permutation and fixed fractions
(default 80/10/10, at least one subject per split when there are three or more
subjects). Their axial slices over the brain are scaled per volume to ``[0, 1]``
(robust percentiles), framed like the OASIS PNGs (brain centred in a square
frame), resized to ``image_size`` and stored as 8-bit pixels.
"""

from __future__ import annotations

import math
import os
import re
import struct
import time
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.containers import (
    SliceSource,
    SliceSplit,
    empty_split,
    pixels_from_floats,
)
from oasis_helpers.data.layouts import (
    LAYOUT_TREES,
    SMOKE_SLICES_PER_SUBJECT,
    SMOKE_SUBJECTS,
    SPLIT_FRACTIONS,
    SPLITS,
    DataLayoutError,
    UnreadableFileError,
    check_on_error,
    natural_key,
    nifti_files,
    oasis1_images,
    warn_skipped,
)
from oasis_helpers.data.resampling import mask_values_to_labels, pad_and_resize
from oasis_helpers.data.slicing import (
    DEFAULT_BRAIN_FILL,
    DEFAULT_SLICE_RANGE,
    DEFAULT_SLICES_PER_VOLUME,
    VOLUME_BRAIN_THRESHOLD,
)
from oasis_helpers.data.summary import inspect_source
from oasis_helpers.data.workers import parallel_map


@dataclass
class VolumeRecord:
    """One volume file found in a volume layout.

    Attributes:
        path: the image file (``.img`` of an Analyze pair, or ``.nii[.gz]``).
        subject: the subject id (sessions of one subject share it).
        session: the session / file label (e.g. ``OAS1_0001_MR1``).
        mask_path: a tissue segmentation in the same space, or ``None``.
    """

    path: Path
    subject: str
    session: str
    mask_path: Path | None = None


def find_oasis1_volumes(root: str | os.PathLike) -> list[VolumeRecord]:
    """OASIS-1 ``*_t88_masked_gfc.img`` volumes under ``root`` (disc folders or above).

    The subject is ``OAS1_XXXX`` (so ``MR1`` and ``MR2`` sessions of one person
    share a split); the ``FSL_SEG/*_fseg.img`` segmentation is the mask when present.
    """
    records = []
    for path in oasis1_images(Path(root)):
        session_folder = path.parents[3]
        session = session_folder.name
        match = re.match(r"(OAS1_\d+)_(MR\d+)", session)
        subject = match.group(1) if match else session
        segmentations = sorted((session_folder / "FSL_SEG").glob("*_fseg.img"))
        records.append(
            VolumeRecord(path, subject, session, segmentations[0] if segmentations else None)
        )
    return records


def find_nifti_volumes(root: str | os.PathLike) -> tuple[list[VolumeRecord], list[Path]]:
    """NIfTI volumes under ``root`` and the mask-like files that were left out.

    The subject is the BIDS ``sub-XX`` found in the path, else the file name
    without ``.nii[.gz]``; files named like masks or segmentations (``_seg``,
    ``_mask``, ``_dseg``, ...) are not loaded as images.
    """
    volumes, masks = nifti_files(Path(root))
    records = []
    for path in volumes:
        stem = re.sub(r"\.nii(\.gz)?$", "", path.name, flags=re.IGNORECASE)
        relative = str(path.relative_to(root))
        match = re.search(r"sub-[A-Za-z0-9]+", relative)
        subject = match.group(0) if match else stem
        records.append(VolumeRecord(path, subject, stem))
    return records, masks


def split_subjects(
    subject_ids: npt.ArrayLike,
    seed: int = 42,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> dict[str, list[str]]:
    """Assign distinct subjects to train / validate / test with a seeded permutation.

    With ``n >= 3`` subjects, validate and test get ``max(1, round(n * fraction))``
    subjects each and train the rest; with fewer, every subject goes to train
    (and a warning says so). The same subjects and seed always give the same split.
    """
    fractions = tuple(float(value) for value in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    subjects = sorted(set(map(str, subject_ids)), key=natural_key)
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    count = len(order)
    if count < 3:
        warnings.warn(
            f"only {count} subject(s): all go to train; validate and test are empty",
            stacklevel=2,
        )
        return {"train": sorted(order, key=natural_key), "validate": [], "test": []}
    n_validate = max(1, round(count * fractions[1])) if fractions[1] > 0 else 0
    n_test = max(1, round(count * fractions[2])) if fractions[2] > 0 else 0
    n_validate = min(n_validate, count - 1 - (n_test > 0))
    n_test = min(n_test, count - 1 - n_validate)
    n_train = count - n_validate - n_test
    parts = {
        "train": order[:n_train],
        "validate": order[n_train : n_train + n_validate],
        "test": order[n_train + n_validate :],
    }
    return {split: sorted(members, key=natural_key) for split, members in parts.items()}


def read_volume(path: str | os.PathLike, labels: bool = False) -> npt.NDArray[Any]:
    """Read a 3D volume (Analyze or NIfTI) reoriented to RAS voxel axes.

    Axis 0 runs left to right, 1 posterior to anterior, 2 inferior to superior,
    as nibabel's affine describes it (Analyze 7.5 stores no orientation; nibabel
    assumes its radiological default). Trailing axes of length 1 are dropped.

    Returns:
        float32 ``[X, Y, Z]`` (uint8 when ``labels``).

    Raises:
        UnreadableFileError: the file cannot be read, is not 3D, or holds NaN or
            infinite voxels.
    """
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    path = Path(path)
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)
        affine = image.affine
    except (ImageFileError, OSError, EOFError, ValueError, zlib.error, struct.error) as error:
        raise UnreadableFileError(path, f"cannot read the volume ({error})") from error
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise UnreadableFileError(path, f"expected a 3D volume, got shape {data.shape}")
    data = data.astype(np.float32)
    bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise UnreadableFileError(path, f"{bad} voxel(s) are NaN or infinite")
    if affine is not None:
        orientation = nib.orientations.io_orientation(affine)
        transform = nib.orientations.ornt_transform(
            orientation, nib.orientations.axcodes2ornt("RAS")
        )
        data = nib.orientations.apply_orientation(data, transform)
    data = np.ascontiguousarray(data)
    return mask_values_to_labels(np.rint(data)) if labels else data


def scale_intensity(
    volume: npt.NDArray[Any], low_percentile: float = 0.5, high_percentile: float = 99.5
) -> npt.NDArray[np.float32]:
    """Scale a volume to ``[0, 1]`` with robust percentiles.

    ``low`` is the ``low_percentile`` of all voxels (0 for skull-stripped volumes,
    whose background is zero) and ``high`` the ``high_percentile`` of the voxels
    above ``low``; ``(v - low) / (high - low)`` is clipped to ``[0, 1]``, so a few
    hot voxels do not darken the whole volume.
    """
    low = float(np.percentile(volume, low_percentile))
    foreground = volume[volume > low]
    if foreground.size == 0:
        raise ValueError("the volume is constant: nothing to scale")
    high = float(np.percentile(foreground, high_percentile))
    if high <= low:
        high = float(foreground.max())
    return np.clip((volume - low) / (high - low), 0.0, 1.0).astype(np.float32)


def axial_slices(
    volume: npt.NDArray[Any],
    image_size: int = 256,
    slices_per_volume: int | None = DEFAULT_SLICES_PER_VOLUME,
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE,
    brain_fill: float = DEFAULT_BRAIN_FILL,
    labels: npt.NDArray[np.uint8] | None = None,
    min_brain_fraction: float = 0.02,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32], npt.NDArray[np.uint8] | None]:
    """Axial slices over the brain, framed and resized like the OASIS PNG slices.

    Args:
        volume: float32 ``[X, Y, Z]`` in ``[0, 1]``, RAS voxel axes (:func:`read_volume`).
        image_size: output side.
        slices_per_volume: evenly spaced slices to keep (``None``: every slice).
        slice_range: the kept part of the brain's inferior-superior extent
            (0 = lowest slice holding brain, 1 = the top one).
        brain_fill: fraction of the frame side the brain's bounding box spans.
        labels: optional uint8 ``[X, Y, Z]`` tissue labels in the same space.
        min_brain_fraction: slices whose brain covers less of its bounding box
            than this are skipped as empty.

    Returns:
        ``(images, slice_ids, masks)``: float32 ``[n, S, S]`` (anterior at the top,
        the subject's right on the right), int32 ``[n]`` axial indices, and uint8
        ``[n, S, S]`` labels or ``None``.
    """
    low, high = slice_range
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"slice_range must satisfy 0 <= low < high <= 1, got {slice_range}")
    brain = volume > VOLUME_BRAIN_THRESHOLD
    per_slice = brain.sum(axis=(0, 1))
    occupied = np.flatnonzero(per_slice > 0)
    if occupied.size == 0:
        raise ValueError("the volume holds no brain voxels")
    first, last = int(occupied[0]), int(occupied[-1])
    start, stop = first + low * (last - first), first + high * (last - first)
    if slices_per_volume is None:
        planes = np.arange(math.ceil(start), math.floor(stop) + 1)
    else:
        planes = np.unique(np.rint(np.linspace(start, stop, slices_per_volume)).astype(int))

    # In-plane frame: the brain's bounding box over the whole volume, centred in a square.
    projection = np.rot90(brain.any(axis=2))  # [Y, X], anterior at the top
    rows, columns = np.flatnonzero(projection.any(axis=1)), np.flatnonzero(projection.any(axis=0))
    box_height, box_width = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
    side = int(math.ceil(max(box_height, box_width) / brain_fill))
    centre_row = (rows[0] + rows[-1] + 1) / 2.0
    centre_column = (columns[0] + columns[-1] + 1) / 2.0
    top, left = int(round(centre_row - side / 2.0)), int(round(centre_column - side / 2.0))
    box_area = float(box_height * box_width)

    def framed(plane: np.ndarray) -> np.ndarray:
        canvas = np.zeros((side, side), plane.dtype)
        row_from, column_from = max(top, 0), max(left, 0)
        row_to = min(top + side, plane.shape[0])
        column_to = min(left + side, plane.shape[1])
        canvas[row_from - top : row_to - top, column_from - left : column_to - left] = plane[
            row_from:row_to, column_from:column_to
        ]
        return canvas

    images, kept, masks = [], [], []
    for z in planes:
        if per_slice[z] < min_brain_fraction * box_area:
            continue
        images.append(np.clip(pad_and_resize(framed(np.rot90(volume[:, :, z])), image_size), 0, 1))
        if labels is not None:
            masks.append(
                pad_and_resize(framed(np.rot90(labels[:, :, z])), image_size, nearest=True)
            )
        kept.append(int(z))
    stacked = (
        np.stack(images).astype(np.float32)
        if images
        else np.zeros((0, image_size, image_size), np.float32)
    )
    mask_stack = None
    if labels is not None:
        mask_stack = (
            np.stack(masks).astype(np.uint8)
            if masks
            else np.zeros((0, image_size, image_size), np.uint8)
        )
    return stacked, np.array(kept, np.int32), mask_stack


def load_volume_slices(
    root: str | os.PathLike,
    layout: str,
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    on_error: str = "raise",
    split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    slices_per_volume: int | None = DEFAULT_SLICES_PER_VOLUME,
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE,
    brain_fill: float = DEFAULT_BRAIN_FILL,
    workers: int | None = None,
    with_masks: bool = True,
) -> SliceSource:
    """Load axial slices of the volumes of an ``oasis1_analyze`` or ``nifti`` layout.

    Subjects (not slices, not sessions) are split with :func:`split_subjects`;
    each volume is read (:func:`read_volume`), scaled (:func:`scale_intensity`)
    and cut into slices (:func:`axial_slices`), which are stored as 8-bit pixels
    (:func:`~oasis_helpers.data.pixels_from_floats`: within ``1 / 510`` of the float
    intensities). With ``smoke`` only 3 / 1 / 1
    subjects with 8 slices each are loaded; the split itself (and the subject
    lists in ``info``) always cover every subject found. With ``with_masks=False``
    segmentations are not read and ``masks`` is ``None``.

    Raises:
        UnreadableFileError: a volume cannot be read or holds NaN / inf voxels
            (with ``on_error="skip"``: skipped, one warning counts them).
    """
    check_on_error(on_error)
    begin = time.perf_counter()
    root = Path(root)
    ignored: list[Path] = []
    if layout == "oasis1_analyze":
        records = find_oasis1_volumes(root)
    elif layout == "nifti":
        records, ignored = find_nifti_volumes(root)
    else:
        raise ValueError(f"layout must be 'oasis1_analyze' or 'nifti', got {layout!r}")
    if not records:
        raise DataLayoutError(f"no {layout} volumes found under {root}.\n\n{LAYOUT_TREES}")
    if not with_masks:
        records = [replace(record, mask_path=None) for record in records]

    assignment = split_subjects([record.subject for record in records], seed, split_fractions)
    split_of = {subject: split for split, members in assignment.items() for subject in members}
    per_split = {split: [r for r in records if split_of[r.subject] == split] for split in SPLITS}
    if smoke:
        per_split = {
            split: [r for r in chosen if r.subject in assignment[split][: SMOKE_SUBJECTS[split]]]
            for split, chosen in per_split.items()
        }
        slices_per_volume = min(
            slices_per_volume or SMOKE_SLICES_PER_SUBJECT, SMOKE_SLICES_PER_SUBJECT
        )

    def load(record: VolumeRecord):
        failure = None
        try:
            volume = scale_intensity(read_volume(record.path))
        except UnreadableFileError as error:
            failure = error
        except ValueError as error:  # e.g. a constant volume
            failure = UnreadableFileError(record.path, str(error))
        if failure is not None:
            if on_error == "raise":
                raise failure
            return record, failure
        labels = None
        if record.mask_path is not None:
            try:
                labels = read_volume(record.mask_path, labels=True)
            except UnreadableFileError as error:
                if on_error == "raise":
                    raise
                return record, error
            if labels.shape != volume.shape:
                warnings.warn(
                    f"{record.mask_path}: mask shape {labels.shape} differs from the volume's "
                    f"{volume.shape}; the mask is not used",
                    stacklevel=2,
                )
                labels = None
        images, slice_ids, masks = axial_slices(
            volume, image_size, slices_per_volume, slice_range, brain_fill, labels
        )
        # stored as 8 bits: a volume's float slices live only while it is processed
        return record, (pixels_from_floats(images), slice_ids, masks, volume.shape)

    every = [record for split in SPLITS for record in per_split[split]]
    results = dict(
        (id(record), outcome)
        for record, outcome in parallel_map(load, every, workers or min(4, os.cpu_count() or 1))
    )
    with_masks = any(record.mask_path is not None for record in records)
    skipped, shapes, splits = [], Counter(), {}
    for split in SPLITS:
        images, masks, present, subject_ids, slice_ids, files = [], [], [], [], [], []
        for record in per_split[split]:
            outcome = results[id(record)]
            if isinstance(outcome, UnreadableFileError):
                skipped.append({"file": str(outcome.path), "reason": outcome.reason})
                continue
            volume_images, volume_slice_ids, volume_masks, shape = outcome
            shapes["x".join(map(str, shape))] += 1
            count = len(volume_images)
            images.append(volume_images)
            if with_masks:
                has_mask = volume_masks is not None
                masks.append(volume_masks if has_mask else np.zeros_like(volume_images, np.uint8))
                present.append(np.full(count, has_mask))
            subject_ids.extend([record.subject] * count)
            slice_ids.append(volume_slice_ids)
            files.extend([str(record.path)] * count)
        if not images:
            splits[split] = empty_split(image_size, with_masks)
            continue
        splits[split] = SliceSplit(
            pixels=np.concatenate(images)[..., None],
            subject_ids=np.array(subject_ids, dtype=str),
            slice_ids=np.concatenate(slice_ids).astype(np.int32),
            masks=np.concatenate(masks) if with_masks else None,
            files=files,
            mask_present=np.concatenate(present) if with_masks else None,
        )
    warn_skipped(skipped)
    missing_masks = [str(r.path) for r in records if with_masks and r.mask_path is None]
    missing_masks += [  # loaded volumes whose mask could not be used
        str(record.path)
        for record in every
        if with_masks
        and record.mask_path is not None
        and not isinstance(results[id(record)], UnreadableFileError)
        and results[id(record)][2] is None
    ]
    info = {
        "source_counts": {split: (None if smoke else len(splits[split])) for split in SPLITS},
        "source_subjects": {split: len(assignment[split]) for split in SPLITS},
        "source_subject_ids": assignment,
        "volumes_found": len(records),
        "original_sizes": dict(shapes),
        "resized": int(sum(len(split) for split in splits.values())),  # every slice is framed
        "missing_masks": missing_masks,
        "ignored_files": [str(path) for path in ignored],
        "skipped": skipped,
        "split_fractions": list(split_fractions),
        "slices_per_volume": slices_per_volume,
        "slice_range": list(slice_range),
        "load_seconds": time.perf_counter() - begin,
    }
    source = SliceSource(layout, root, image_size, splits, info=info)
    source.info = inspect_source(source)
    return source
