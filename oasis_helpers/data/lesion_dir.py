"""The user's own annotated lesions, as PNG slices or as NIfTI volumes with their masks.

Notebook 05 evaluates its anomaly maps on these instead of synthetic lesions when its
``lesion_dir`` parameter names a folder. :func:`load_lesion_dir` reads one of three layouts
(:data:`LESION_DIR_LAYOUT` draws them); a mask voxel or pixel that is non-zero marks a
lesion, and an all-zero mask gives healthy slices.

* **PNG slices**: ``images/`` and ``masks/`` holding files of the same names. Images are
  read with the PNG slices' decoding (:func:`oasis_helpers.data.png.decode_png`) and the
  masks with the same padding and resizing (nearest neighbour).
* **NIfTI pairs**: ``<subject>_image.nii[.gz]`` and ``<subject>_mask.nii[.gz]`` side by side
  in ``lesion_dir``.
* **BraTS subject folders**: one folder per subject in ``lesion_dir``, holding a T1 volume
  and a ``*_seg.nii[.gz]`` segmentation. The image is the native T1 (``*_t1``, BraTS 2023's
  ``*-t1n``); a folder without one falls back to its contrast-enhanced T1 (``*_t1ce``,
  ``*-t1c``), with a warning; T2 and FLAIR (``*_t2``, ``*_flair``, ``*-t2w``, ``*-t2f``) are
  never used, since the models learnt T1-weighted brains. Other files are ignored.

Volumes are cut into axial slices exactly as the data loader cuts a NIfTI volume
(:mod:`oasis_helpers.data.volumes`): reoriented to RAS voxel axes with nibabel
(:func:`~oasis_helpers.data.volumes.read_volume`), scaled to ``[0, 1]`` with robust
percentiles (:func:`~oasis_helpers.data.volumes.scale_intensity`), and
:data:`~oasis_helpers.data.slicing.DEFAULT_SLICES_PER_VOLUME` slices over
:data:`~oasis_helpers.data.slicing.DEFAULT_SLICE_RANGE` of the brain's extent framed and
resized to ``image_size`` (:func:`~oasis_helpers.data.volumes.axial_slices`), then rounded to
8-bit levels as the loader stores them, so that a volume gives here the slices the loader
gives. The mask is reoriented the same way and framed with the image's frame, resized with
nearest neighbour, so it stays binary and aligned with the image.

A folder holds one layout: PNG slices beside NIfTI volumes, or NIfTI pairs beside BraTS
folders, is an error that names a file of each (they are usually two exports of the same
lesions, which would be counted twice). Every error names its file: an image without a
mask, a mask without an image, an image and a mask of different sizes (volumes: after
both are reoriented), a volume that is not 3D or cannot be read.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.containers import floats_from_pixels, pixels_from_floats
from oasis_helpers.data.layouts import UnreadableFileError, is_visible, natural_key
from oasis_helpers.data.png import decode_png
from oasis_helpers.data.resampling import pad_and_resize
from oasis_helpers.data.slicing import (
    DEFAULT_BRAIN_FILL,
    DEFAULT_SLICE_RANGE,
    DEFAULT_SLICES_PER_VOLUME,
    slice_heights,
)
from oasis_helpers.data.volumes import axial_slices, read_volume, scale_intensity

__all__ = ["LESION_DIR_LAYOUT", "LesionDirError", "LesionSlices", "load_lesion_dir"]


class LesionDirError(ValueError):
    """``lesion_dir`` is empty or its images and masks do not pair up (message names the file)."""


class LesionSlices(NamedTuple):
    """Slices with annotated lesions read by :func:`load_lesion_dir`.

    Attributes:
        images: float32 ``[N, S, S, 1]`` in ``[0, 1]``.
        masks: bool ``[N, S, S]``, True = lesion.
        names: the ``N`` slice names: PNG file names in natural order, or for volumes
            ``"<image file, relative to lesion_dir>:z=<axial index>"`` (subjects in natural
            order, each from inferior to superior; the index is in RAS voxel axes).
        slice_heights: for volumes, float32 ``[N]``: each slice's height among its
            volume's slices, 0 the lowest, 1 the highest (as the code grids of the series'
            own slices, :func:`oasis_helpers.data.slice_heights`), for a prior
            conditioned on it; ``None`` for PNG slices, whose heights are unknown.
    """

    images: npt.NDArray[np.float32]
    masks: npt.NDArray[np.bool_]
    names: list[str]
    slice_heights: npt.NDArray[np.float32] | None = None


LESION_DIR_LAYOUT = """\
lesion_dir/                      PNG slices
├── images/   slice_001.png, slice_002.png, ...   (grayscale slices)
└── masks/    slice_001.png, slice_002.png, ...   (same names; non-zero = lesion)

lesion_dir/                      or NIfTI volumes, a pair per subject
├── case_01_image.nii.gz          (.nii or .nii.gz; any 3D volume, e.g. a T1)
├── case_01_mask.nii.gz           (same voxel grid; non-zero = lesion)
└── ...

lesion_dir/                      or BraTS folders, one per subject
├── BraTS2021_00000/
│   ├── BraTS2021_00000_t1.nii.gz    (the image: t1, else t1ce; never t2 or flair)
│   ├── BraTS2021_00000_seg.nii.gz   (non-zero = lesion)
│   └── ..._t1ce, ..._t2, ..._flair  (not used)
└── ...                              (BraTS 2023's -t1n / -t1c / -seg names work too)"""

_NIFTI_NAME = re.compile(r"\.nii(\.gz)?$", re.IGNORECASE)
_PAIR_NAME = re.compile(r"^(?P<key>.+)_(?P<role>image|mask)\.nii(\.gz)?$", re.IGNORECASE)
_BRATS_NAME = re.compile(
    r"^.+[_-](?P<kind>t1|t1n|t1ce|t1c|t1gd|t2|t2w|flair|t2f|seg)\.nii(\.gz)?$", re.IGNORECASE
)
#: The role of each BraTS file kind here: the image is the first of "t1" and "t1ce" found.
_BRATS_ROLES = {
    kind: role
    for role, kinds in (
        ("t1", ("t1", "t1n")),
        ("t1ce", ("t1ce", "t1c", "t1gd")),
        ("seg", ("seg",)),
        ("other", ("t2", "t2w", "flair", "t2f")),
    )
    for kind in kinds
}


def _png_files(folder: Path) -> dict[str, Path]:
    """Visible ``*.png`` files of a folder by name (other files are ignored)."""
    return {
        path.name: path
        for path in folder.iterdir()
        if path.is_file() and is_visible(path) and path.suffix.lower() == ".png"
    }


def _png_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the PNG header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableFileError(path, f"cannot read the PNG ({error})") from error


def _read_lesion_mask(path: Path, image_size: int) -> np.ndarray:
    """A mask PNG as bool ``[S, S]``: non-zero = lesion; padded and resized like the images
    (nearest neighbour, so the mask stays binary)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("P", "PA", "RGB", "RGBA", "LA", "CMYK", "YCbCr"):
                image = image.convert("L")
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableFileError(path, f"cannot decode the PNG ({error})") from error
    lesion = (pixels != 0).astype(np.uint8)
    return pad_and_resize(lesion, image_size, nearest=True) > 0


def load_lesion_dir(
    lesion_dir: str | os.PathLike,
    image_size: int,
    *,
    slices_per_volume: int | None = DEFAULT_SLICES_PER_VOLUME,
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE,
    brain_fill: float = DEFAULT_BRAIN_FILL,
) -> LesionSlices:
    """Read the user's own annotated lesions: PNG slices, NIfTI pairs or BraTS folders.

    The layout is told from what ``lesion_dir`` holds (:data:`LESION_DIR_LAYOUT`; the
    module's docstring gives the rules). PNG images are decoded like the data loader's PNG
    slices (gray; 16-bit scaled by 65535; padded to a centred square and resized bilinearly
    to ``image_size``) and their masks padded and resized with nearest neighbour. Volumes
    give the axial slices the data loader takes of a NIfTI volume (RAS orientation, robust
    intensity scaling, ``slices_per_volume`` slices over ``slice_range`` of the brain,
    framed with ``brain_fill`` and resized to ``image_size``, 8-bit levels), and their masks
    the same slices of the mask volume, reoriented alike and resized with nearest neighbour.
    A mask that is zero everywhere gives healthy slices.

    Args:
        lesion_dir: the folder holding ``images/`` and ``masks/``, the
            ``*_image.nii[.gz]`` / ``*_mask.nii[.gz]`` pairs, or the BraTS subject folders.
        image_size: side ``S`` of the returned slices (the model's input size).
        slices_per_volume, slice_range, brain_fill: which slices of a volume are taken and
            how they are framed (volumes only; the data loader's defaults,
            :mod:`oasis_helpers.data.slicing`).

    Returns:
        :class:`LesionSlices` ``(images [N, S, S, 1] float32, masks [N, S, S] bool, names)``.

    Raises:
        FileNotFoundError: ``lesion_dir`` is missing, or it holds no volumes and no
            ``images/`` or ``masks/`` folder.
        LesionDirError: nothing to read; PNG slices beside NIfTI volumes, or NIfTI pairs
            beside BraTS folders; a mask without an image or an image without a mask; an
            image and its mask of different sizes (volumes: after reorientation); a NIfTI
            file in ``lesion_dir`` not named ``*_image`` / ``*_mask``; a BraTS folder
            without a T1 (or T1ce) volume, or with two of one kind (each names the file).
        oasis_helpers.data.UnreadableFileError: a PNG or volume cannot be decoded, a volume
            is not 3D, holds NaN or infinite voxels, is constant or holds no brain (names
            the file).
    """
    if int(image_size) != image_size or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size}")
    low, high = slice_range
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"slice_range must satisfy 0 <= low < high <= 1, got {slice_range}")
    root = Path(lesion_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"lesion_dir {str(root)!r} is not a folder. Expected:\n{LESION_DIR_LAYOUT}"
        )
    png_examples = [
        path
        for name in ("images", "masks")
        if (root / name).is_dir()
        for path in sorted(_png_files(root / name).values(), key=lambda p: natural_key(p.name))
    ]
    pair_files = _nifti_files(root)
    subject_folders = [
        folder
        for folder in sorted(root.iterdir(), key=lambda p: natural_key(p.name))
        if folder.is_dir()
        and is_visible(folder)
        and folder.name not in ("images", "masks")
        and _nifti_files(folder)
    ]
    found = {
        "PNG slices": png_examples[:1],
        "NIfTI image/mask pairs": pair_files[:1],
        "BraTS subject folders": _nifti_files(subject_folders[0])[:1] if subject_folders else [],
    }
    present = {kind: paths[0] for kind, paths in found.items() if paths}
    if len(present) > 1:
        listed = " and ".join(f"{kind} ({path})" for kind, path in present.items())
        raise LesionDirError(
            f"lesion_dir {str(root)!r} mixes {listed}: it must hold one layout (two layouts "
            f"are often two exports of the same lesions). Move one elsewhere. "
            f"Expected:\n{LESION_DIR_LAYOUT}"
        )
    if pair_files:
        volumes = _paired_volumes(pair_files)
    elif subject_folders:
        volumes = []
        for folder in subject_folders:  # not a comprehension: Python 3.11 gives it a frame,
            volumes.append(_brats_volumes(folder))  # which the T1ce warning's stacklevel counts
    else:
        return _load_png_slices(root, image_size)
    return _load_volumes(root, volumes, image_size, slices_per_volume, slice_range, brain_fill)


def _nifti_files(folder: Path) -> list[Path]:
    """Visible ``*.nii`` / ``*.nii.gz`` files directly in ``folder``, in natural order."""
    return sorted(
        (
            path
            for path in folder.iterdir()
            if path.is_file() and is_visible(path) and _NIFTI_NAME.search(path.name)
        ),
        key=lambda path: natural_key(path.name),
    )


def _require_pairs(
    images: dict[str, Path],
    masks: dict[str, Path],
    image_for: Callable[[str], object],
    mask_for: Callable[[str], object],
) -> None:
    """Raise :class:`LesionDirError` naming the first mask without an image, then the first
    image without a mask (``images`` and ``masks`` by their common key; ``image_for(key)``
    and ``mask_for(key)`` name the missing counterpart)."""
    masks_alone = sorted(set(masks) - set(images), key=natural_key)
    if masks_alone:
        raise LesionDirError(
            f"{masks[masks_alone[0]]}: a mask without an image (no "
            f"{image_for(masks_alone[0])}; {len(masks_alone)} mask(s) without image)"
        )
    images_alone = sorted(set(images) - set(masks), key=natural_key)
    if images_alone:
        raise LesionDirError(
            f"{images[images_alone[0]]}: an image without a mask (no "
            f"{mask_for(images_alone[0])}; {len(images_alone)} image(s) without mask)"
        )


def _paired_volumes(files: list[Path]) -> list[tuple[Path, Path]]:
    """``(image, mask)`` of each subject of ``*_image`` / ``*_mask`` files, in natural order."""
    roles: dict[str, dict[str, Path]] = {"image": {}, "mask": {}}
    for path in files:
        match = _PAIR_NAME.match(path.name)
        if match is None:
            hint = (
                "; it looks like a BraTS subject's file: point lesion_dir at the folder that "
                "holds the subject folders"
                if _BRATS_NAME.match(path.name)
                else ""
            )
            raise LesionDirError(
                f"{path}: a NIfTI file in lesion_dir must be named <subject>_image.nii[.gz] or "
                f"<subject>_mask.nii[.gz]{hint}. Expected:\n{LESION_DIR_LAYOUT}"
            )
        role, key = match["role"].lower(), match["key"]
        if key in roles[role]:
            raise LesionDirError(
                f"{path}: a second {role} of {key!r} (also {roles[role][key]}); keep one"
            )
        roles[role][key] = path
    images, masks = roles["image"], roles["mask"]
    _require_pairs(images, masks, "{}_image.nii[.gz]".format, "{}_mask.nii[.gz]".format)
    return [(images[key], masks[key]) for key in sorted(images, key=natural_key)]


def _brats_volumes(folder: Path) -> tuple[Path, Path]:
    """``(T1, segmentation)`` of one BraTS subject folder (the native T1, else the T1ce)."""
    by_role: dict[str, list[Path]] = {}
    files = _nifti_files(folder)
    for path in files:
        match = _BRATS_NAME.match(path.name)
        if match is not None:
            by_role.setdefault(_BRATS_ROLES[match["kind"].lower()], []).append(path)
    for role in ("t1", "t1ce", "seg"):
        if len(by_role.get(role, [])) > 1:
            first, second = by_role[role][:2]
            raise LesionDirError(
                f"{second}: a second {role} volume in {folder} (also {first.name}); keep one"
            )
    image = (by_role.get("t1") or by_role.get("t1ce") or [None])[0]
    seg = (by_role.get("seg") or [None])[0]
    if image is None:
        unused = [path.name for path in by_role.get("other", [])]
        because = f" (T2 and FLAIR are not used: {', '.join(unused)})" if unused else ""
        if seg is not None:
            raise LesionDirError(
                f"{seg}: a mask without an image: {folder} holds no T1 volume "
                f"(*_t1.nii[.gz], or *_t1ce){because}"
            )
        raise LesionDirError(
            f"{folder}: a subject folder with neither a T1 volume (*_t1.nii[.gz]) nor a "
            f"segmentation (*_seg.nii[.gz]){because}; it holds "
            f"{', '.join(path.name for path in files)}. Expected:\n{LESION_DIR_LAYOUT}"
        )
    if seg is None:
        raise LesionDirError(f"{image}: an image without a mask (no *_seg.nii[.gz] in {folder})")
    if not by_role.get("t1"):
        warnings.warn(
            f"{image}: {folder.name} has no native T1 (*_t1.nii[.gz]), so its contrast-enhanced "
            "T1 is read; enhancing lesions are brighter there than in the T1 the models learnt",
            stacklevel=3,
        )
    return image, seg


def _load_volumes(
    root: Path,
    volumes: list[tuple[Path, Path]],
    image_size: int,
    slices_per_volume: int | None,
    slice_range: tuple[float, float],
    brain_fill: float,
) -> LesionSlices:
    """The axial slices of each ``(image, mask)`` volume pair, cut as the data loader cuts."""
    images, masks, names, heights = [], [], [], []
    for image_path, mask_path in volumes:
        volume = read_volume(image_path)
        lesion = read_volume(mask_path) > 0
        if lesion.shape != volume.shape:
            raise LesionDirError(
                f"{mask_path}: mask shape {'x'.join(map(str, lesion.shape))} differs from its "
                f"image {image_path} ({'x'.join(map(str, volume.shape))}), both in RAS "
                "orientation; they must match voxel for voxel"
            )
        try:
            slices, planes, lesion_slices = axial_slices(
                scale_intensity(volume),
                image_size,
                slices_per_volume,
                slice_range,
                brain_fill,
                labels=lesion.astype(np.uint8),
            )
        except ValueError as error:  # a constant volume, or one that holds no brain
            raise UnreadableFileError(image_path, str(error)) from error
        images.append(floats_from_pixels(pixels_from_floats(slices))[..., None])
        masks.append(lesion_slices > 0)
        relative = image_path.relative_to(root).as_posix()
        names.extend(f"{relative}:z={plane}" for plane in planes)
        heights.append(slice_heights(np.zeros(len(planes)), np.asarray(planes)))
    return LesionSlices(
        np.concatenate(images), np.concatenate(masks), names, np.concatenate(heights)
    )


def _load_png_slices(root: Path, image_size: int) -> LesionSlices:
    """The PNG layout: ``images/`` and ``masks/`` holding files of the same names."""
    folders = {}
    for name in ("images", "masks"):
        folders[name] = root / name
        if not folders[name].is_dir():
            raise FileNotFoundError(
                f"lesion_dir {str(root)!r} has no {name}/ folder. Expected:\n{LESION_DIR_LAYOUT}"
            )
    images_found, masks_found = _png_files(folders["images"]), _png_files(folders["masks"])
    if not images_found and not masks_found:
        raise LesionDirError(
            f"lesion_dir {str(root)!r} holds no PNG files in images/ or masks/ "
            "and no NIfTI volumes. "
            f"Expected:\n{LESION_DIR_LAYOUT}"
        )
    _require_pairs(
        images_found,
        masks_found,
        lambda name: folders["images"] / name,
        lambda name: folders["masks"] / name,
    )
    names = sorted(images_found, key=natural_key)
    images = np.zeros((len(names), image_size, image_size, 1), np.float32)
    masks = np.zeros((len(names), image_size, image_size), bool)
    for index, name in enumerate(names):
        image_path, mask_path = images_found[name], masks_found[name]
        image_shape = _png_size(image_path)
        mask_shape = _png_size(mask_path)
        if image_shape != mask_shape:
            raise LesionDirError(
                f"{mask_path}: mask size {mask_shape[0]}x{mask_shape[1]} (width x height) differs "
                f"from its image "
                f"{image_path} ({image_shape[0]}x{image_shape[1]}); they must match pixel for pixel"
            )
        pixels = np.asarray(decode_png(image_path, image_size, as_mask=False))
        if pixels.dtype == np.uint8:
            pixels = floats_from_pixels(pixels)
        images[index, ..., 0] = pixels
        masks[index] = _read_lesion_mask(mask_path, image_size)
    return LesionSlices(images, masks, names)
