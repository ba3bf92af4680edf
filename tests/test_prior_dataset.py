"""The prior's training pairs (oasis_helpers.prior.dataset)."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior


def test_code_dataset_pairs_inputs_with_targets():
    codes = fx.random_codes(5, 3, 3)
    slice_heights = np.linspace(0, 1, 5, dtype=np.float32)
    (inputs, batch_slice_heights), targets = next(
        iter(prior.make_code_dataset(codes, slice_heights, batch_size=5, shuffle=False))
    )
    np.testing.assert_array_equal(inputs, codes)
    np.testing.assert_array_equal(targets, codes)
    np.testing.assert_allclose(batch_slice_heights, slice_heights)
    with pytest.raises(ValueError, match="slice heights"):
        prior.make_code_dataset(codes, slice_heights[:3])
