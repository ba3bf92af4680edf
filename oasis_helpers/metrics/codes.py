"""Codebook measures over a whole set: code histogram, perplexity, usage, codebook health.

The formulas are the quantizer's training metrics (:mod:`oasis_helpers.quantizer.statistics`)
over a set of code indices of any shape (:func:`code_statistics`: notebook 03) or of a bare
quantizer layer on a set of vectors (:func:`codebook_health`: notebook 02).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.quantizer import (
    code_counts,
    codebook_usage_from_counts,
    perplexity_from_counts,
)

__all__ = [
    "code_histogram",
    "code_statistics",
    "codebook_health",
    "codebook_usage",
    "perplexity",
]


def _check_indices(indices, num_embeddings: int) -> np.ndarray:
    indices = np.asarray(indices)
    if num_embeddings < 1:
        raise ValueError(f"num_embeddings must be >= 1, got {num_embeddings}")
    if indices.size == 0:
        raise ValueError("got no code indices")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"code indices must be integers, got dtype {indices.dtype}")
    if indices.min() < 0 or indices.max() >= num_embeddings:
        raise ValueError(
            f"code indices must lie in [0, {num_embeddings - 1}], got values in "
            f"[{indices.min()}, {indices.max()}]"
        )
    return indices


def code_histogram(indices: npt.ArrayLike, num_embeddings: int) -> npt.NDArray[np.int64]:
    """How often each of the ``K`` codes occurs in ``indices`` (any shape): int64 ``[K]``."""
    indices = _check_indices(indices, num_embeddings)
    return np.bincount(indices.reshape(-1), minlength=num_embeddings).astype(np.int64)


def perplexity(indices: npt.ArrayLike, num_embeddings: int) -> float:
    """``exp(-sum_k p_k log p_k)`` of the code histogram: 1 (one code) .. K (all equally)."""
    indices = _check_indices(indices, num_embeddings)
    return float(perplexity_from_counts(code_counts(indices, num_embeddings)))


def codebook_usage(indices: npt.ArrayLike, num_embeddings: int) -> float:
    """Fraction of the ``K`` codes that occur at least once in ``indices``."""
    indices = _check_indices(indices, num_embeddings)
    return float(codebook_usage_from_counts(code_counts(indices, num_embeddings)))


def code_statistics(indices: npt.ArrayLike, num_embeddings: int) -> dict[str, Any]:
    """The whole-set statistics of code indices (any shape, e.g. code grids ``[N, h, w]``).

    Returns:
        ``counts`` (int64 ``[K]``, as :func:`code_histogram`), ``code_perplexity`` and
        ``codebook_usage`` (floats, the very values of :func:`perplexity` and
        :func:`codebook_usage`): the keys :func:`codebook_health` and
        :func:`oasis_helpers.plots.plot_code_frequencies` use.
    """
    indices = _check_indices(indices, num_embeddings)
    counts = code_counts(indices, num_embeddings)
    return {
        "counts": code_histogram(indices, num_embeddings),
        "code_perplexity": float(perplexity_from_counts(counts)),
        "codebook_usage": float(codebook_usage_from_counts(counts)),
    }


def codebook_health(layer, vectors: npt.ArrayLike, batch_size: int = 65536) -> dict[str, Any]:
    """Nearest-code statistics of a quantizer ``layer`` over a whole set of vectors ``[M, D]``.

    Unlike the layers' training metrics (``batch_perplexity``, ``batch_codebook_usage``:
    means of per-batch values), these are computed from one histogram over all
    ``M`` vectors.

    Args:
        layer: an :mod:`oasis_helpers.quantizer` layer (``code_indices``, ``lookup``,
            ``num_embeddings``).
        vectors: float ``[M, D]``.
        batch_size: vectors quantized at a time.

    Returns:
        ``code_perplexity`` (``exp`` of the entropy of the code histogram),
        ``codebook_usage`` (fraction of codes used at least once),
        ``reconstruction_mse`` (mean over all ``M * D`` elements of ``(x - e_{k*(x)})^2``)
        and ``counts`` (``[K]`` int64 histogram).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"vectors must be a non-empty [M, D] array, got shape {vectors.shape}")
    counts = np.zeros(layer.num_embeddings, dtype=np.float64)
    squared_error = 0.0
    for start in range(0, len(vectors), batch_size):
        chunk = vectors[start : start + batch_size]
        indices = layer.code_indices(chunk)
        counts += np.asarray(code_counts(indices, layer.num_embeddings))
        squared_error += float(np.sum((np.asarray(layer.lookup(indices)) - chunk) ** 2))
    return {
        "code_perplexity": float(perplexity_from_counts(counts)),
        "codebook_usage": float(codebook_usage_from_counts(counts)),
        "reconstruction_mse": squared_error / vectors.size,
        "counts": counts.astype(np.int64),
    }
