"""prior.conditioning: the heights a conditional prior gets, read from the code grids."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import oasis_fixtures as fx

from oasis_helpers import code_grids, prior


def test_heights_come_from_the_split_only_for_a_conditional_prior():
    split = code_grids.CodeSplit(
        codes=np.zeros((4, 2, 2), np.int32),
        subject_ids=np.array(["a"] * 4),
        slice_ids=np.arange(4, dtype=np.int32),
        slice_heights=np.array([0.0, 1 / 3, 2 / 3, 1.0], np.float32),
    )
    conditional, unconditional = SimpleNamespace(conditional=True), fx.tiny_prior()
    heights = prior.heights_if_conditional(conditional, split, np.array([3, 0]))
    np.testing.assert_array_equal(heights, [1.0, 0.0])
    assert heights.dtype == np.float32
    everything = prior.heights_if_conditional(conditional, split)
    np.testing.assert_array_equal(everything, split.slice_heights)
    everything[0] = 0.5  # a copy: the code grids stay as notebook 03 saved them
    assert split.slice_heights[0] == 0.0
    assert prior.heights_if_conditional(unconditional, split, np.array([1])) is None
