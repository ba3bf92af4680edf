"""The prior's training data: a ``tf.data`` pipeline of code grids (and slice heights).

The prior learns next-code prediction from the grids themselves: a grid is both the
input and the target, since the model's causality keeps each position from seeing its
own code. Train on it with ``training.fit`` after :func:`oasis_helpers.prior.compile_prior`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.prior.inputs import check_positive_int

__all__ = ["make_code_dataset"]


def make_code_dataset(
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike | None = None,
    batch_size: int = 32,
    shuffle: bool = True,
    repeat: bool = True,
    seed: int = 0,
    top_codes: npt.ArrayLike | None = None,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of training pairs for the prior.

    Yields ``(codes, codes)`` or, with ``slice_heights``, ``((codes, slice_heights), codes)``:
    codes int32 ``[B, h, w]`` are both the input and the target (the model's
    causality makes this next-code prediction). With ``top_codes`` (the layouts
    ``[N, h/f, w/f]`` a two-level fine prior is given, :mod:`oasis_helpers.prior.layout`)
    the inputs are ``(codes, slice_heights, top_codes)`` (``slice_heights`` then required).
    """
    codes = np.asarray(codes).astype(np.int32)
    if codes.ndim != 3 or len(codes) == 0:
        raise ValueError(f"codes must have shape [N, h, w] with N >= 1, got {codes.shape}")
    batch_size = check_positive_int("batch_size", batch_size)
    if top_codes is not None:
        top_codes = np.asarray(top_codes).astype(np.int32)
        if slice_heights is None or len(top_codes) != len(codes) or top_codes.ndim != 3:
            raise ValueError(
                f"top_codes need slice heights and one [h/f, w/f] grid per code grid, got "
                f"{top_codes.shape} for {codes.shape}"
            )
    if slice_heights is None:
        dataset = tf.data.Dataset.from_tensor_slices((codes, codes))
    else:
        slice_heights = np.asarray(slice_heights, dtype=np.float32).reshape(-1)
        if len(slice_heights) != len(codes):
            raise ValueError(f"got {len(slice_heights)} slice heights for {len(codes)} code grids")
        inputs = (codes, slice_heights) if top_codes is None else (codes, slice_heights, top_codes)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, codes))
    if shuffle:
        dataset = dataset.shuffle(min(len(codes), 10_000), seed=seed)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)
