"""The containers every loader returns: :class:`SliceSplit` and :class:`SliceSource`.

Slices are stored as 8-bit pixels, uint8 ``[N, H, W, 1]`` (``pixels``), and
turned into float32 ``[0, 1]`` images only where they are used: per batch in the
``tf.data`` pipeline (:func:`oasis_helpers.data.make_dataset`), or for the slices
a caller asks for (``split.float_images(indices)``). The full-size OASIS PNG set
(11,328 slices of 256 x 256) takes 0.74 GB this way instead of 2.97 GB as float32.

Precision: ``image = pixels / 255``. The OASIS PNGs are 8-bit, so for them nothing is
lost; volumes and 16-bit PNGs are scaled to ``[0, 1]`` first and then rounded to the
nearest of the 256 levels (:func:`pixels_from_floats`), an error of at most
``1 / 510`` (0.2 % of the range), below the noise of an MR image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.data.layouts import LAYOUT_LABELS

#: ``image = pixels * PIXEL_SCALE``: 8-bit pixels 0..255 to intensities in [0, 1].
PIXEL_SCALE = np.float32(1.0 / 255.0)


def pixels_from_floats(images: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Float intensities in ``[0, 1]`` to uint8 pixels: ``round(clip(x, 0, 1) * 255)``.

    The rounding error is at most ``1 / 510`` of the range; values outside
    ``[0, 1]`` are clipped. Any shape; the result has the same shape.
    """
    images = np.asarray(images, dtype=np.float32)
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def floats_from_pixels(pixels: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """uint8 pixels to float32 intensities in ``[0, 1]``: ``pixels / 255`` (any shape)."""
    return np.multiply(np.asarray(pixels), PIXEL_SCALE, dtype=np.float32)


class FloatImages:
    """A read-only float view of a split's uint8 pixels: ``view[key] = pixels[key] / 255``.

    Indexing works like NumPy indexing of a float32 ``[N, H, W, 1]`` array
    (an int, a slice, an index array, a boolean mask, a tuple) and converts only
    the selected slices, so ``split.images[:96]`` costs 96 float slices, not the
    whole split. ``np.asarray(view)`` converts every slice (a full float32 copy:
    2.5 GB for the OASIS training split; prefer batches).
    """

    __slots__ = ("_pixels",)

    def __init__(self, pixels: npt.NDArray[np.uint8]):
        self._pixels = pixels

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._pixels.shape)

    @property
    def ndim(self) -> int:
        return self._pixels.ndim

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self._pixels)

    def __getitem__(self, key) -> npt.NDArray[np.float32]:
        return floats_from_pixels(self._pixels[key])

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def __array__(self, dtype=None, copy=None) -> npt.NDArray[Any]:
        array = floats_from_pixels(self._pixels)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"FloatImages(shape={self.shape}, dtype=float32, stored as uint8)"


@dataclass
class SliceSplit:
    """The slices of one split.

    Attributes:
        pixels: uint8 ``[N, image_size, image_size, 1]``, the stored slices;
            ``image = pixels / 255`` lies in ``[0, 1]``.
        subject_ids: str ``[N]``, the subject each slice comes from.
        slice_ids: int32 ``[N]``, the slice's index within its subject.
        masks: uint8 ``[N, image_size, image_size]`` tissue labels (0 background,
            1 CSF, 2 grey matter, 3 white matter), or ``None`` without masks.
        files: the source file of each slice.
        mask_present: bool ``[N]``, whether slice ``i`` has a real mask (masks of
            slices without one are all background); ``None`` without masks.

    Float images: ``split.float_images(indices)`` is float32 ``[n, H, W, 1]`` in
    ``[0, 1]`` for just those slices (``split.images[indices]`` is the same,
    NumPy-style); build :func:`~oasis_helpers.data.make_dataset` pipelines for
    whole splits (they convert per batch). Use :meth:`from_float_images` to build a
    split from float images.
    """

    pixels: npt.NDArray[np.uint8]
    subject_ids: npt.NDArray[np.str_]
    slice_ids: npt.NDArray[np.int32]
    masks: npt.NDArray[np.uint8] | None
    files: list[str]
    mask_present: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        pixels = self.pixels
        if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 4:
            described = (
                f"{pixels.dtype} array of shape {pixels.shape}"
                if isinstance(pixels, np.ndarray)
                else type(pixels).__name__
            )
            raise ValueError(
                f"pixels must be a uint8 array [N, H, W, 1] (image = pixels / 255), got a "
                f"{described}; build a split from float images in [0, 1] with "
                "SliceSplit.from_float_images(images, ...)"
            )
        if pixels.shape[-1] != 1:
            raise ValueError(f"pixels must have one channel [N, H, W, 1], got {pixels.shape}")

    @classmethod
    def from_float_images(cls, images: npt.ArrayLike, *args, **kwargs) -> SliceSplit:
        """A split from float images ``[N, H, W, 1]`` in ``[0, 1]`` (rounded to 8 bits).

        The other arguments are those of the class (``subject_ids``, ``slice_ids``,
        ``masks``, ``files``, ``mask_present``).
        """
        return cls(pixels_from_floats(images), *args, **kwargs)

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def image_size(self) -> int:
        """Side of the square slices."""
        return int(self.pixels.shape[1])

    @property
    def images(self) -> FloatImages:
        """Float32 images in ``[0, 1]``, converted from ``pixels`` only where indexed.

        ``split.images[i]`` is float32 ``[H, W, 1]``, ``split.images[indices]`` is
        ``[n, H, W, 1]``; ``len``, ``shape`` and ``dtype`` work without converting.
        """
        return FloatImages(self.pixels)

    def float_images(self, indices: npt.ArrayLike | None = None) -> npt.NDArray[np.float32]:
        """Float32 ``[n, H, W, 1]`` images in ``[0, 1]`` of ``indices`` (all slices when ``None``).

        The same values as ``split.images[indices]``; ``indices`` is anything that
        indexes the first axis of a NumPy array (a slice, an index array, a
        boolean mask). All slices of the OASIS training split take 2.5 GB as
        float32: for whole splits, iterate a :func:`~oasis_helpers.data.make_dataset`
        pipeline instead.
        """
        return floats_from_pixels(self.pixels if indices is None else self.pixels[indices])

    @property
    def subjects(self) -> list[str]:
        """The distinct subjects, in order of first appearance."""
        return list(dict.fromkeys(self.subject_ids.tolist()))

    def subject_slices(self, subject_id: str) -> npt.NDArray[np.int64]:
        """Indices of one subject's slices, ordered by slice id."""
        indices = np.flatnonzero(self.subject_ids == subject_id)
        return indices[np.argsort(self.slice_ids[indices], kind="stable")]


@dataclass
class SliceSource:
    """A loaded source: its layout, where it came from, its splits and a summary.

    Attributes:
        layout: one of :data:`~oasis_helpers.data.LAYOUTS`.
        root: the folder the data came from (``None`` for the demo cohort).
        image_size: side of the square slices.
        splits: ``{"train": SliceSplit, "validate": ..., "test": ...}``.
        info: the inspection summary (:func:`~oasis_helpers.data.inspect_source`).
    """

    layout: str
    root: Path | None
    image_size: int
    splits: dict[str, SliceSplit]
    info: dict = field(default_factory=dict)

    @property
    def stand_in(self) -> bool:
        """True for the demo cohort, which is a stand-in for OASIS, not OASIS."""
        return self.layout == "demo"

    @property
    def label(self) -> str:
        """A human-readable name of the source, for titles and printouts."""
        if self.layout == "demo":
            from oasis_helpers.demo import DEMO_LABEL

            return DEMO_LABEL
        return LAYOUT_LABELS.get(self.layout, self.layout)


def empty_split(image_size: int, with_masks: bool) -> SliceSplit:
    """A :class:`SliceSplit` of no slices (a split that a source lacks), with masks or not."""
    return SliceSplit(
        pixels=np.zeros((0, image_size, image_size, 1), np.uint8),
        subject_ids=np.zeros((0,), dtype=str),
        slice_ids=np.zeros((0,), np.int32),
        masks=np.zeros((0, image_size, image_size), np.uint8) if with_masks else None,
        files=[],
        mask_present=np.zeros((0,), bool) if with_masks else None,
    )
