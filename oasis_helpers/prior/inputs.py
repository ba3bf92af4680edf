"""Checks of what every part of the prior is given: counts, code grids, slice heights.

Each returns the value in the form the prior computes with (``int``, int32 ``[N, h, w]``,
float32 ``[N]``) or raises a ``ValueError`` that names the argument and what is allowed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_codes", "check_positions", "check_positive_int"]


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


def check_positions(positions, count: int, conditional: bool) -> np.ndarray | None:
    """The slices' heights as float32 ``[count]`` in ``[0, 1]`` (one value is broadcast).

    ``None`` for an unconditional prior (whatever was passed); a conditional one needs them.
    """
    if not conditional:
        return None
    if positions is None:
        raise ValueError("this prior is conditional: pass positions (float32 [N] in [0, 1])")
    positions = np.broadcast_to(np.asarray(positions, dtype=np.float32).reshape(-1), (count,))
    if positions.size and (positions.min() < 0 or positions.max() > 1):
        raise ValueError(
            f"positions must lie in [0, 1], got values in [{positions.min()}, {positions.max()}]"
        )
    return np.ascontiguousarray(positions)
