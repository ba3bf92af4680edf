"""What a prior is conditioned on, read from the code grids: each slice's height, or nothing.

A conditional prior (``conditional=True``) takes, with each code grid, the normalised
axial height of its slice (0: the lowest slice of its subject, 1: the highest), which
notebook 03 stored beside the grids (``code_grids.CodeSplit``). An unconditional prior
takes ``None``. :func:`heights_if_conditional` is that choice, made in one place for
notebooks 04 and 05 and the benchmarks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["heights_if_conditional"]


def heights_if_conditional(model, split, indices=None) -> np.ndarray | None:
    """The heights of ``split``'s slices if ``model`` is conditional, else ``None``.

    Args:
        model: a prior (anything with a ``conditional`` attribute, e.g. a
            :class:`~oasis_helpers.prior.GatedPixelCNN`).
        split: a ``code_grids.CodeSplit`` (its ``slice_heights``, float32 ``[N]`` in ``[0, 1]``).
        indices: which slices, in the order wanted (any NumPy index: an integer array, a
            slice); ``None``: all of them.

    Returns:
        float32 ``[n]`` heights (a copy), or ``None`` when the model is not conditional.
    """
    if not model.conditional:
        return None
    heights = np.asarray(split.slice_heights, np.float32)
    return np.array(heights if indices is None else heights[indices], np.float32)
