"""Checks of what every part of the prior is given: counts, code grids, slice heights.

Each returns the value in the form the prior computes with (``int``, int32 ``[N, h, w]``,
float32 ``[N]``) or raises a ``ValueError`` that names the argument and what is allowed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_codes", "check_positive_int", "check_slice_heights"]


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum`` (booleans and fractions refused, ``ValueError``)."""
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_codes(codes, num_embeddings: int, name: str = "codes") -> np.ndarray:
    """Code grids as int32 ``[N, h, w]`` with every code in ``[0, num_embeddings)``."""
    codes = np.asarray(codes)
    if codes.ndim != 3:
        raise ValueError(f"{name} must have shape [N, h, w], got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= num_embeddings):
        raise ValueError(
            f"{name} must lie in [0, {num_embeddings - 1}], got values in "
            f"[{codes.min()}, {codes.max()}]"
        )
    return codes.astype(np.int32)


def check_slice_heights(slice_heights, count: int, conditional: bool) -> np.ndarray | None:
    """The slices' heights as float32 ``[count]`` in ``[0, 1]`` (one value is broadcast).

    ``None`` for an unconditional prior (whatever was passed); a conditional one needs them.
    """
    if not conditional:
        return None
    if slice_heights is None:
        raise ValueError("this prior is conditional: pass slice_heights (float32 [N] in [0, 1])")
    heights = np.broadcast_to(np.asarray(slice_heights, dtype=np.float32).reshape(-1), (count,))
    if heights.size and (heights.min() < 0 or heights.max() > 1):
        raise ValueError(
            f"slice_heights must lie in [0, 1], got values in [{heights.min()}, {heights.max()}]"
        )
    return np.ascontiguousarray(heights)
