"""Quantizer state under ``tf.distribute``: sums over replicas and the first replica's values.

:func:`replica_sum` all-reduces code counts (and EMA sums) so that every replica updates the
codebook as one device would; :func:`from_first_replica` gives every replica the first
replica's data-derived codebook rows, so that all copies stay identical. Outside a replica
context, or with one replica, both return their input.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "from_first_replica",
    "replica_sum",
]


def replica_sum(values):
    """All-reduce (SUM) across replicas when running in a replica context with >1 replicas."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def from_first_replica(values):
    """``values`` of the first replica of the whole cluster, on every replica.

    Data-derived codebook rows (k-means++ initialisation, dead-code restarts) come
    from each replica's own batch. Variables with ``aggregation="only_first_replica"``
    keep the first replica's assignment *per worker*, so under
    ``MultiWorkerMirroredStrategy`` each worker would keep a different codebook.
    Broadcasting replica 0's values (an all-reduce of ``[K, D]`` floats, zero
    everywhere but on replica 0) keeps every copy identical.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return values
    first = tf.equal(tf.convert_to_tensor(context.replica_id_in_sync_group), 0)
    return context.all_reduce(
        tf.distribute.ReduceOp.SUM, tf.where(first, values, tf.zeros_like(values))
    )
