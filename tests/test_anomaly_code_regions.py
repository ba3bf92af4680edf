"""Which codes are brain and which are lesion (oasis_helpers.anomaly.code_regions)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import anomaly


def test_code_region_marks_the_blocks_that_touch_the_region():
    region = np.zeros((1, 8, 8), bool)
    region[0, 5, 2] = True  # block (2, 1) of a 4x4 grid of 2x2 blocks
    region[0, 0:2, 6:8] = True  # block (0, 3)
    expected = np.zeros((1, 4, 4), bool)
    expected[0, 2, 1] = expected[0, 0, 3] = True
    np.testing.assert_array_equal(anomaly.code_region(region, (4, 4)), expected)
    with pytest.raises(ValueError, match="multiple of the code grid"):
        anomaly.code_region(region, (3, 3))


def test_lesion_codes_are_the_codes_a_lesion_covers_for_at_least_a_quarter():
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 0:2, 0:2] = True  # 4 of the 16 pixels of code (0, 0): a lesion code
    masks[0, 4, 4:7] = True  # 3 of 16 of code (1, 1): touched, not a lesion code
    masks[1, 3, 3] = True  # one pixel of code (0, 0) of slice 1: not one either
    expected = np.zeros((2, 2, 2), bool)
    expected[0, 0, 0] = True
    np.testing.assert_array_equal(anomaly.lesion_codes(masks, (2, 2)), expected)
    np.testing.assert_array_equal(
        anomaly.lesion_codes(masks, (2, 2)),
        anomaly.covered_codes(masks, (2, 2), anomaly.LESION_CODE_COVERAGE),
    )
    assert anomaly.code_region(masks, (2, 2)).sum() == 3  # what touching would have counted


def test_brain_codes_are_the_blocks_that_touch_the_uneroded_brain():
    images = np.zeros((2, 16, 16, 1), np.float32)
    images[0, 4:8, 4:8] = 0.8  # the whole block of code (1, 1)
    images[0, 8, 11] = 0.8  # one pixel of code (2, 2): it decodes brain, so a brain code
    images[1, 2:14, 2:14] = 0.8  # a square brain whose edge blocks are part background
    expected = np.zeros((2, 4, 4), bool)
    expected[0, 1, 1] = expected[0, 2, 2] = True
    expected[1] = True
    codes = anomaly.brain_codes(images, (4, 4))
    np.testing.assert_array_equal(codes, expected)
    # the erosion of the pixel evaluation does not shrink the brain codes
    assert not anomaly.code_region(anomaly.brain_region(images), (4, 4))[0].any()
    np.testing.assert_array_equal(anomaly.brain_codes(images[..., 0], (4, 4)), expected)
    with pytest.raises(ValueError, match="multiple of the code grid"):
        anomaly.brain_codes(images, (3, 3))


def test_covered_codes_marks_codes_by_their_share_of_mask_pixels():
    masks = np.zeros((1, 8, 8), bool)
    masks[0, 0:2, 0:4] = True  # half of code (0, 0)
    masks[0, 4, 4] = True  # one pixel of code (1, 1)
    np.testing.assert_array_equal(anomaly.covered_codes(masks, (2, 2))[0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(
        anomaly.covered_codes(masks, (2, 2), coverage=1 / 16),
        anomaly.code_region(masks, (2, 2)),
    )
    assert not anomaly.covered_codes(masks, (2, 2), coverage=0.6).any()
    with pytest.raises(ValueError, match="multiple"):
        anomaly.covered_codes(masks[:, :7], (2, 2))
    with pytest.raises(ValueError, match="coverage"):
        anomaly.covered_codes(masks, (2, 2), coverage=0)
