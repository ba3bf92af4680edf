"""Where a code sits: its coordinates in the grid and its slice's height in the head.

Both models of code grids are told where each code is, besides the codes themselves: the
PixelCNN prior (:mod:`oasis_helpers.prior`, its position features) and the blind-spot
model (:mod:`oasis_helpers.blind_spot`, its ``GridContext`` layer). A brain sits in the
middle of its frame and changes shape from the lowest slice to the highest, so *where*
tells a model much of *what*. One convention for each, used by both models:

* grid coordinates (:func:`grid_coordinates`): ``(i / (h - 1), j / (w - 1))`` for the
  code at row ``i``, column ``j`` of an ``h x w`` grid, in ``[0, 1]`` (0 along a side of
  one code);
* slice heights (:func:`slice_heights`, defined beside the other slicing conventions in
  :mod:`oasis_helpers.data.slicing`): ``(slice_id - lowest) / (highest - lowest)`` over
  the slice ids of the slice's subject, in ``[0, 1]`` (0: its lowest slice, 1: its
  highest; 0.5 for a subject with one slice), stored with the codes in ``codes.npz``
  (:mod:`oasis_helpers.code_grids`) and checked by :func:`check_slice_heights`, which
  every function that passes them to a model calls: a model conditioned on the heights
  gets them or raises an error that says what to pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from keras import ops

from oasis_helpers.data.slicing import slice_heights

__all__ = ["check_slice_heights", "grid_coordinates", "slice_heights"]


def grid_coordinates(height, width, dtype: str = "float32"):
    """The coordinates of every position of an ``h x w`` grid: ``[h, w, 2]``.

    ``[..., 0] = i / (h - 1)`` and ``[..., 1] = j / (w - 1)``, both in ``[0, 1]`` (0 along
    a side of one code). ``height`` and ``width`` may be Python ints or scalar tensors (a
    traced shape), so that fully convolutional models take any grid.
    """
    rows = ops.cast(ops.arange(height), dtype) / ops.cast(ops.maximum(height - 1, 1), dtype)
    columns = ops.cast(ops.arange(width), dtype) / ops.cast(ops.maximum(width - 1, 1), dtype)
    return ops.stack(
        [
            ops.broadcast_to(rows[:, None], (height, width)),
            ops.broadcast_to(columns[None, :], (height, width)),
        ],
        axis=-1,
    )


def check_slice_heights(
    slice_heights: npt.ArrayLike | None, count: int, conditional: bool = True
) -> npt.NDArray[np.float32] | None:
    """The slices' heights as float32 ``[count]`` in ``[0, 1]`` (one value is broadcast).

    ``None`` for a model that is not ``conditional`` on them (whatever was passed).

    Raises:
        ValueError: ``slice_heights`` is None for a conditional model (the message says
            what to pass), or a height lies outside ``[0, 1]``.
    """
    if not conditional:
        return None
    if slice_heights is None:
        raise ValueError(
            "this model is conditioned on the slices' heights: pass slice_heights, float32 [N] "
            "(or one value) in [0, 1], e.g. code_grids.load_codes(run_dir)[split].slice_heights, "
            "or 0.5 (the middle of the head) for slices of unknown height"
        )
    heights = np.broadcast_to(np.asarray(slice_heights, dtype=np.float32).reshape(-1), (count,))
    if heights.size and (heights.min() < 0 or heights.max() > 1):
        raise ValueError(
            f"slice_heights must lie in [0, 1], got values in [{heights.min()}, {heights.max()}]"
        )
    return np.ascontiguousarray(heights)
