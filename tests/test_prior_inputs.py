"""The checks of what the prior is given (oasis_helpers.prior.inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers.prior import inputs


def test_positive_ints_refuse_booleans_fractions_and_small_values():
    assert inputs.check_positive_int("count", 3.0) == 3
    for value in (True, 2.5, 0):
        with pytest.raises(ValueError, match=r"count must be an integer >= 1"):
            inputs.check_positive_int("count", value)
    with pytest.raises(ValueError, match=r"kernel_size must be an integer >= 3, got 2"):
        inputs.check_positive_int("kernel_size", 2, 3)


def test_codes_come_back_as_int32_grids_of_the_codebook():
    codes = inputs.check_codes(np.array([[[0, 6]]], np.int64), 7)
    assert codes.dtype == np.int32 and codes.shape == (1, 1, 2)
    with pytest.raises(ValueError, match=r"grids must have shape \[N, h, w\]"):
        inputs.check_codes(np.zeros((2, 2)), 7, name="grids")
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 6\], got values in \[0, 7\]"):
        inputs.check_codes(np.array([[[0, 7]]]), 7)
