"""Checks of what every part of the prior is given: counts and code grids.

Each returns the value in the form the prior computes with (``int``, int32 ``[N, h, w]``)
or raises a ``ValueError`` that names the argument and what is allowed. The slice heights
are checked by :func:`oasis_helpers.code_location.check_slice_heights`, which the
blind-spot model shares.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["check_codes", "check_positive_int", "check_top_codes"]


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum`` (booleans and fractions refused, ``ValueError``)."""
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_codes(
    codes: npt.ArrayLike, num_embeddings: int, name: str = "codes"
) -> npt.NDArray[np.int32]:
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


def check_top_codes(model, top_codes, fine_shape) -> npt.NDArray[np.int32] | None:
    """The layout ``top_codes`` of a two-level fine prior as int32 ``[N, h / f, w / f]``.

    ``model.top_codes`` (``K_top``) is 0 for a one-level prior, which takes ``None``;
    otherwise ``top_codes`` must hold codes in ``[0, K_top)`` with ``f * shape ==
    fine_shape`` (``[N, h, w]`` of the fine grids, ``f = model.top_factor``).
    ``ValueError`` when not.
    """
    wanted = int(getattr(model, "top_codes", 0) or 0)
    if not wanted:
        if top_codes is not None:
            raise ValueError("this prior takes no top_codes (it was built with top_codes=0)")
        return None
    if top_codes is None:
        raise ValueError("this prior is conditioned on a layout: pass top_codes [N, h/f, w/f]")
    top_codes = check_codes(top_codes, wanted, "top_codes")
    count, height, width = fine_shape
    factor = model.top_factor
    if (
        top_codes.shape != (count, height // factor, width // factor)
        or height % factor
        or width % factor
    ):
        raise ValueError(
            f"top_codes must have shape [{count}, {height}/{factor}, {width}/{factor}] for fine "
            f"grids {tuple(fine_shape)}, got {top_codes.shape}"
        )
    return top_codes
