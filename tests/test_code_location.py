"""Where a code sits (oasis_helpers.code_location): one convention of grid coordinates for
both code models."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from oasis_helpers import code_location


def test_grid_coordinates_run_from_zero_to_one_along_each_side():
    grid = np.asarray(code_location.grid_coordinates(3, 5))
    assert grid.shape == (3, 5, 2) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[:, 0, 0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(grid[0, :, 1], [0.0, 0.25, 0.5, 0.75, 1.0])
    assert np.all(grid[:, :, 0] == grid[:, :1, 0]) and np.all(grid[:, :, 1] == grid[:1, :, 1])
    np.testing.assert_array_equal(np.asarray(code_location.grid_coordinates(1, 1)), [[[0, 0]]])


def test_grid_coordinates_take_a_traced_shape():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def coordinates_of(grid):
        shape = tf.shape(grid)
        return code_location.grid_coordinates(shape[0], shape[1])

    np.testing.assert_allclose(
        coordinates_of(tf.zeros((4, 2))), code_location.grid_coordinates(4, 2), atol=0
    )
