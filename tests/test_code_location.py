"""Where a code sits (oasis_helpers.code_location): one convention of grid coordinates and of
slice heights, and one behaviour of both code models when the heights are missing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from oasis_helpers import blind_spot, code_location, prior


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


def test_check_slice_heights_broadcasts_one_value_and_refuses_heights_outside_zero_to_one():
    checked = code_location.check_slice_heights(0.25, 3)
    assert checked.dtype == np.float32 and checked.tolist() == [0.25] * 3
    assert code_location.check_slice_heights(None, 3, conditional=False) is None
    assert code_location.check_slice_heights([0.1, 0.2, 0.3], 3, conditional=False) is None
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        code_location.check_slice_heights([0.5, 1.5], 2)


def test_both_code_models_refuse_missing_heights_with_the_same_advice(tmp_path):
    """The conditional prior and the blind-spot model raise one error that says what to
    pass; the blind-spot model no longer takes the middle of the head silently."""
    codes = np.zeros((2, 4, 4), np.int32)
    conditional_prior = prior.GatedPixelCNN(
        num_embeddings=3, hidden_channels=4, num_layers=1, head_channels=4, conditional=True
    )
    flag_model = blind_spot.make_blind_spot_model(3, 4, hole=0, embedding_dim=2, filters=4)
    calls = (
        lambda: prior.nll_map_bits(conditional_prior, codes),
        lambda: prior.sample_codes(conditional_prior, 2, 4, 4),
        lambda: blind_spot.surprise_bits(flag_model, codes, None),
        lambda: blind_spot.train_or_load(tmp_path, 3, codes, None),
        lambda: blind_spot.train_or_load(tmp_path, 3, codes, 0.5, codes, None),
    )
    messages = set()
    for call in calls:
        with pytest.raises(ValueError, match="pass slice_heights") as error:
            call()
        messages.add(str(error.value))
    assert len(messages) == 1 and "0.5 (the middle of the head)" in messages.pop()
    assert not any(tmp_path.iterdir())  # refused before any folder was made
