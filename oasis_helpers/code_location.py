"""Where a code sits: its coordinates in the grid.

Both models of code grids are told where each code is, besides the codes themselves: the
PixelCNN prior (:mod:`oasis_helpers.prior`, its position features) and the blind-spot
model (:mod:`oasis_helpers.blind_spot`, its ``GridContext`` layer). A brain sits in the
middle of its frame, so *where* tells a model much of *what*. One convention, used by
both models: the grid coordinates (:func:`grid_coordinates`) ``(i / (h - 1), j / (w - 1))``
of the code at row ``i``, column ``j`` of an ``h x w`` grid, in ``[0, 1]`` (0 along a side
of one code).
"""

from __future__ import annotations

from keras import ops

__all__ = ["grid_coordinates"]


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
