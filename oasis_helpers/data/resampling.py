"""2D resampling shared by the loaders: padding to a square, resizing, and mask labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def _pad_to_square(array: np.ndarray) -> np.ndarray:
    """Zero-pad a 2D array to a centred square."""
    height, width = array.shape
    side = max(height, width)
    if height == width:
        return array
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side), dtype=array.dtype)
    square[top : top + height, left : left + width] = array
    return square


def pad_and_resize(
    array: npt.NDArray[Any], image_size: int, nearest: bool = False
) -> npt.NDArray[Any]:
    """Pad a 2D array to a square, then resize it to ``image_size`` (PIL).

    Intensities use bilinear resampling (antialiased when shrinking); label masks
    use nearest neighbour so no new label values appear.
    """
    from PIL import Image

    array = _pad_to_square(array)
    if array.shape[0] == image_size:
        return array
    if nearest:
        image = Image.fromarray(array.astype(np.uint8), mode="L")
        return np.asarray(image.resize((image_size, image_size), Image.NEAREST))
    image = Image.fromarray(array.astype(np.float32), mode="F")
    return np.asarray(image.resize((image_size, image_size), Image.BILINEAR))


_MASK_LOOKUP = np.clip(np.rint(np.arange(256) / 85.0), 0, 3).astype(np.uint8)


def mask_values_to_labels(mask: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """Map mask pixel values to labels 0..3.

    OASIS PNG masks store ``0, 85, 170, 255`` (background, CSF, grey, white
    matter): ``label = round(value / 85)``. Masks that already hold 0..3 are
    kept as they are.
    """
    mask = np.asarray(mask)
    if mask.size and mask.max() <= 3:
        return mask.astype(np.uint8)
    if mask.dtype == np.uint8:
        return _MASK_LOOKUP[mask]  # a table lookup: the fast path for PNG masks
    return np.clip(np.rint(mask.astype(np.float32) / 85.0), 0, 3).astype(np.uint8)
