"""The shapes the anomaly modules accept: image batches, map and mask batches, equal shapes.

Each module of :mod:`oasis_helpers.anomaly` takes single slices or batches, with or
without the channel axis; these turn them into the arrays it computes with, or raise a
``ValueError`` that names the argument and its shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "as_image_batch",
    "as_map_batch",
    "check_same_shape",
]


def as_image_batch(
    images: npt.ArrayLike, name: str = "images"
) -> tuple[npt.NDArray[np.float32], bool]:
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


def as_map_batch(values: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    """Maps or masks ``[N, H, W]`` (or ``[N, H, W, 1]``) as an array ``[N, H, W]``."""
    array = np.asarray(values)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape [N, H, W], got {array.shape}")
    return array


def check_same_shape(**arrays: npt.ArrayLike) -> None:
    """``ValueError`` naming every array and its shape unless all shapes are equal."""
    shapes = {name: np.shape(array) for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match: {listed}")
