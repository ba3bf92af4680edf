"""The user's own annotated lesions: ``lesion_dir/images/*.png`` and ``lesion_dir/masks/*.png``.

Notebook 05 evaluates its anomaly maps on these instead of synthetic lesions when its
``lesion_dir`` parameter names a folder. Images and masks have the same file names; a mask
pixel that is non-zero marks a lesion. The images are read with the PNG slices' decoding
(:func:`oasis_helpers.data.png.decode_png`) and the masks with the same padding and
resizing (nearest neighbour), so that every PNG of the series follows one convention and
every error names its file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.containers import floats_from_pixels
from oasis_helpers.data.layouts import UnreadableFileError, is_visible, natural_key
from oasis_helpers.data.png import decode_png
from oasis_helpers.data.resampling import pad_and_resize

__all__ = ["LESION_DIR_LAYOUT", "LesionDirError", "LesionSlices", "load_lesion_dir"]


class LesionDirError(ValueError):
    """``lesion_dir`` is empty or its images and masks do not pair up (message names the file)."""


class LesionSlices(NamedTuple):
    """Slices with annotated lesions read by :func:`load_lesion_dir`.

    Attributes:
        images: float32 ``[N, S, S, 1]`` in ``[0, 1]``.
        masks: bool ``[N, S, S]``, True = lesion.
        names: the ``N`` file names, in natural order.
    """

    images: npt.NDArray[np.float32]
    masks: npt.NDArray[np.bool_]
    names: list[str]


LESION_DIR_LAYOUT = """\
lesion_dir/
├── images/   slice_001.png, slice_002.png, ...   (grayscale slices)
└── masks/    slice_001.png, slice_002.png, ...   (same names; non-zero = lesion)"""


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


def load_lesion_dir(lesion_dir: str | os.PathLike, image_size: int) -> LesionSlices:
    """Read the user's own annotated slices from ``lesion_dir/images`` and ``lesion_dir/masks``.

    Both folders hold PNG files with the same names; a mask pixel that is non-zero marks a
    lesion. Images are decoded like the data loader's PNG slices (gray; 16-bit scaled by
    65535; padded to a centred square and resized bilinearly to ``image_size``); masks are
    padded and resized with nearest neighbour, so they stay binary and aligned.

    Args:
        lesion_dir: the folder holding ``images/`` and ``masks/``.
        image_size: side ``S`` of the returned slices (the model's input size).

    Returns:
        :class:`LesionSlices` ``(images [N, S, S, 1] float32, masks [N, S, S] bool, names)``.

    Raises:
        FileNotFoundError: ``lesion_dir``, ``images/`` or ``masks/`` is missing.
        LesionDirError: no PNG in ``images/``, a mask without an image or an image without a
            mask, or an image and its mask of different sizes (each names the file).
        oasis_helpers.data.UnreadableFileError: a PNG cannot be decoded (names the file).
    """
    if int(image_size) != image_size or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size}")
    root = Path(lesion_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"lesion_dir {str(root)!r} is not a folder. Expected:\n{LESION_DIR_LAYOUT}"
        )
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
            f"lesion_dir {str(root)!r} holds no PNG files in images/ or masks/. "
            f"Expected:\n{LESION_DIR_LAYOUT}"
        )
    masks_alone = sorted(set(masks_found) - set(images_found), key=natural_key)
    if masks_alone:
        raise LesionDirError(
            f"{masks_found[masks_alone[0]]}: a mask without an image (no "
            f"{folders['images'] / masks_alone[0]}; {len(masks_alone)} mask(s) without image)"
        )
    images_alone = sorted(set(images_found) - set(masks_found), key=natural_key)
    if images_alone:
        raise LesionDirError(
            f"{images_found[images_alone[0]]}: an image without a mask (no "
            f"{folders['masks'] / images_alone[0]}; {len(images_alone)} image(s) without mask)"
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
