"""Tests of oasis_helpers.quantizer.seeding: codebook rows from data, repeatable from a seed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from oasis_helpers.quantizer import seeding


def test_random_rows_are_distinct_rows_of_the_batch_and_repeat_only_when_too_few():
    points = tf.reshape(tf.range(20, dtype=tf.float32), [10, 2])
    seed = tf.constant([3, 4], tf.int32)
    rows = seeding.random_rows(points, 6, seed).numpy()
    assert len({tuple(row) for row in rows}) == 6
    assert {tuple(row) for row in rows} <= {tuple(row) for row in points.numpy()}
    np.testing.assert_array_equal(rows, seeding.random_rows(points, 6, seed).numpy())
    assert len({tuple(row) for row in seeding.random_rows(points, 15, seed).numpy()}) == 10


def test_kmeans_plus_plus_seeds_one_centre_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], np.float32)
    points = np.concatenate([centre + rng.normal(0, 0.01, (50, 2)) for centre in centres])
    points = points.astype(np.float32)
    seeds = seeding.kmeans_plus_plus(points, 3, tf.constant([1, 2], tf.int32)).numpy()
    assert seeds.shape == (3, 2)
    nearest = np.argmin(((seeds[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert sorted(nearest) == [0, 1, 2]  # far clusters: each gets one seed
    assert all((np.abs(points - seed).sum(1) == 0).any() for seed in seeds)  # rows of points
