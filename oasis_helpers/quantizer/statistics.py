"""Code-usage statistics from code counts: counts, perplexity and codebook usage.

:func:`code_counts` counts each code's occurrences (XLA-compatible),
:func:`perplexity_from_counts` is ``exp(-sum_k p_k log p_k)`` (the effective number of codes)
and :func:`codebook_usage_from_counts` the fraction of codes used. The layers report them per
batch; :mod:`oasis_helpers.metrics` uses them over whole sets.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "code_counts",
    "codebook_usage_from_counts",
    "perplexity_from_counts",
]


def code_counts(indices, num_embeddings: int):
    """How often each code occurs: float32 ``[K]`` from int indices of any shape.

    Written with ``unsorted_segment_sum`` (not ``bincount``) so that it compiles with
    XLA, which Keras uses for ``fit`` on GPUs (``jit_compile="auto"``).
    """
    flat = tf.reshape(tf.cast(indices, tf.int32), [-1])
    return tf.math.unsorted_segment_sum(tf.ones_like(flat, tf.float32), flat, num_embeddings)


def perplexity_from_counts(counts):
    """``exp(H(p))`` with ``p = counts / sum(counts)`` and ``H(p) = -sum_k p_k log p_k``.

    Equals ``K`` when all ``K`` codes are used equally often and 1 when a single
    code is used: the "effective number of codes". Terms with ``p_k = 0`` count
    as 0. Returns a float32 scalar (1.0 for an all-zero count vector).
    """
    counts = tf.cast(counts, tf.float32)
    total = tf.reduce_sum(counts)
    probabilities = counts / tf.maximum(total, 1e-12)
    safe = tf.where(probabilities > 0, probabilities, tf.ones_like(probabilities))
    entropy = -tf.reduce_sum(probabilities * tf.math.log(safe))
    return tf.exp(entropy)


def codebook_usage_from_counts(counts):
    """Fraction of codes with a non-zero count: float32 scalar in ``[0, 1]``."""
    counts = tf.cast(counts, tf.float32)
    return tf.reduce_mean(tf.cast(counts > 0, tf.float32))
