"""Squared distances between vectors and codes: the nearest-code lookup's one matrix product.

:func:`squared_distances` is ``||x||^2 - 2 x.e + ||e||^2`` for ``N`` vectors and ``K`` codes,
an ``[N, K]`` matrix (an ``[N, K, D]`` tensor is never formed). Both quantizer layers call it
once per call; ``argmin`` over its last axis picks each vector's code.
"""

from __future__ import annotations

from keras import ops

__all__ = [
    "squared_distances",
]


def squared_distances(flat_inputs, codebook):
    """Squared Euclidean distances between vectors and codes, without an ``[N, K, D]`` tensor.

    ``d[n, k] = ||x_n||^2 - 2 x_n . e_k + ||e_k||^2``.

    Args:
        flat_inputs: float ``[N, D]``.
        codebook: float ``[K, D]`` (same dtype).

    Returns:
        ``[N, K]`` distances (may be very slightly negative from rounding).
    """
    input_norms = ops.sum(ops.square(flat_inputs), axis=1, keepdims=True)  # [N, 1]
    code_norms = ops.sum(ops.square(codebook), axis=1)  # [K]
    cross = ops.matmul(flat_inputs, ops.transpose(codebook))  # [N, K]
    return input_norms - 2.0 * cross + ops.expand_dims(code_norms, 0)
