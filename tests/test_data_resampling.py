"""Resizing and mask labels (oasis_helpers.data.resampling).

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


def test_mask_values_to_labels():
    values = np.array([0, 85, 170, 255, 84, 3], np.uint8)
    np.testing.assert_array_equal(data.mask_values_to_labels(values), [0, 1, 2, 3, 1, 0])
    np.testing.assert_array_equal(data.mask_values_to_labels(np.array([0, 1, 2, 3])), [0, 1, 2, 3])


def test_pad_and_resize_pads_to_a_centred_square_then_resizes():
    array = np.ones((4, 8), np.float32)
    square = data.resampling.pad_and_resize(array, 8)
    assert square.shape == (8, 8)
    np.testing.assert_array_equal(square[2:6], 1.0)
    np.testing.assert_array_equal(square[:2], 0.0)
    labels = np.array([[0, 3], [2, 1]], np.uint8)
    resized = data.resampling.pad_and_resize(labels, 4, nearest=True)
    assert resized.shape == (4, 4) and set(np.unique(resized)) == {0, 1, 2, 3}
