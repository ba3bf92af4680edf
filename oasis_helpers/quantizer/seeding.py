"""Codebook rows drawn from data: random rows and k-means++ seeds.

:func:`random_rows` draws rows of a batch (data initialisation with ``init="random"`` and
dead-code restarts); :func:`kmeans_plus_plus` seeds a codebook by k-means++ (Arthur &
Vassilvitskii 2007) on at most :data:`KMEANS_MAX_POINTS` of them (``init="kmeans++"``). Both
are stateless given a seed and run in a graph.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "KMEANS_MAX_POINTS",
    "kmeans_plus_plus",
    "random_rows",
]

# k-means++ seeding looks at no more than this many (randomly chosen) vectors of the batch.
KMEANS_MAX_POINTS = 8192


def random_rows(flat_inputs, count: int, seed):
    """``count`` rows of ``flat_inputs`` ([N, D]), distinct while ``N >= count``.

    Stateless: the same ``seed`` (int32 ``[2]``) gives the same rows.
    """
    num_rows = tf.shape(flat_inputs)[0]
    scores = tf.random.stateless_uniform([num_rows], seed=seed)
    take = tf.minimum(num_rows, count)
    _, chosen = tf.math.top_k(scores, k=take, sorted=False)
    chosen = tf.gather(chosen, tf.range(count) % take)  # repeats only when N < count
    return tf.gather(flat_inputs, chosen)


def kmeans_plus_plus(points, count: int, seed):
    """k-means++ seeding (Arthur & Vassilvitskii 2007) in graph-compatible TensorFlow.

    The first centre is a uniformly random point; every further centre is a point
    drawn with probability proportional to its squared distance to the nearest
    centre chosen so far. Stateless given ``seed`` (int32 ``[2]``).

    Args:
        points: float32 ``[M, D]``.
        count: number of centres ``K``.
        seed: int32 ``[2]``.

    Returns:
        float32 ``[K, D]`` centres (rows of ``points``; repeated only when fewer
        than ``K`` distinct points exist).
    """
    points = tf.convert_to_tensor(points, tf.float32)
    num_points = tf.shape(points)[0]
    seed = tf.cast(seed, tf.int32)
    first = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=num_points, dtype=tf.int32)
    first_centre = tf.gather(points, first)
    centres = tf.TensorArray(tf.float32, size=count, element_shape=first_centre.shape)
    centres = centres.write(0, first_centre)
    nearest = tf.reduce_sum(tf.square(points - first_centre), axis=1)  # [M]

    def body(step, centres, nearest):
        logits = tf.where(
            tf.reduce_max(nearest) > 0,
            tf.math.log(tf.maximum(nearest, 0.0)),  # log 0 = -inf: never drawn again
            tf.zeros_like(nearest),  # all points already centres: draw uniformly
        )
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        chosen = tf.random.stateless_categorical(logits[None, :], 1, seed=step_seed)[0, 0]
        centre = tf.gather(points, chosen)
        nearest = tf.minimum(nearest, tf.reduce_sum(tf.square(points - centre), axis=1))
        return step + 1, centres.write(step, centre), nearest

    _, centres, _ = tf.while_loop(
        lambda step, *_: step < count, body, (tf.constant(1), centres, nearest)
    )
    return centres.stack()
