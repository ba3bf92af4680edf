"""The 8-bit slice storage (oasis_helpers.data.containers).

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


def test_from_float_images_rounds_to_the_nearest_level():
    images = np.linspace(0.0, 1.0, 4 * 4 * 4).reshape(4, 4, 4, 1).astype(np.float32)
    split = data.SliceSplit.from_float_images(
        images, np.array(["a"] * 4), np.arange(4, dtype=np.int32), None, ["f"] * 4
    )
    assert split.pixels.dtype == np.uint8
    assert np.abs(split.float_images() - images).max() <= 1 / 510 + 1e-7


def test_slice_split_refuses_float_pixels_and_says_what_to_use():
    with pytest.raises(ValueError, match="pixels must be a uint8 array.*from_float_images"):
        data.SliceSplit(
            np.zeros((2, 8, 8, 1), np.float32), np.array(["a", "a"]), np.arange(2), None, ["f"] * 2
        )
