"""Tests of oasis_helpers.blind_spot.layers: the grid context's features and the hole
convolution's checks (that the model built from them never sees its hole: test_blind_spot_model)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import blind_spot, code_location


def test_every_position_is_told_its_grid_coordinates_and_its_slices_height():
    features = np.zeros((2, 3, 4, 1), np.float32)
    context = np.asarray(blind_spot.GridContext()(features, np.array([[0.2], [0.9]], np.float32)))
    assert context.shape == (2, 3, 4, 4)
    for index, height in enumerate((0.2, 0.9)):
        np.testing.assert_allclose(context[index, ..., 1:3], code_location.grid_coordinates(3, 4))
        np.testing.assert_allclose(context[index, ..., 3], height)


def test_hole_conv_refuses_a_hole_as_large_as_its_reach():
    with pytest.raises(ValueError, match="hole"):
        blind_spot.HoleConv2D(4, reach=2, hole=2)
    with pytest.raises(ValueError, match="hole"):
        blind_spot.make_blind_spot_model(num_embeddings=4, grid_size=8, hole=-1)
