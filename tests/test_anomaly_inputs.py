"""The shapes the anomaly modules accept (oasis_helpers.anomaly.inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers.anomaly import inputs


@pytest.mark.parametrize(
    ("shape", "single"),
    [((3, 8, 8, 1), False), ((3, 8, 8), False), ((8, 8, 1), True), ((8, 8), True)],
)
def test_images_become_a_float32_batch_and_say_whether_one_slice_came_in(shape, single):
    batch, was_single = inputs.as_image_batch(np.ones(shape, np.uint8))
    assert batch.dtype == np.float32 and batch.shape == ((1 if single else 3), 8, 8)
    assert was_single is single


def test_bad_shapes_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"slices must have shape .*got \(2, 8, 8, 3\)"):
        inputs.as_image_batch(np.ones((2, 8, 8, 3)), "slices")
    with pytest.raises(ValueError, match=r"masks must have shape \[N, H, W\], got \(8, 8\)"):
        inputs.as_map_batch(np.ones((8, 8)), "masks")
    assert inputs.as_map_batch(np.ones((2, 8, 8, 1), bool), "masks").shape == (2, 8, 8)


def test_check_same_shape_names_every_array_and_its_shape():
    inputs.check_same_shape(maps=np.ones((2, 4)), masks=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"maps \(2, 4\), masks \(2, 5\)"):
        inputs.check_same_shape(maps=np.ones((2, 4)), masks=np.zeros((2, 5)))
