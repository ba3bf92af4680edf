"""Tests of oasis_helpers.prior.gated_block: the gate, and one block's causality, checked by
perturbing its inputs (how the blocks make up a causal model: test_prior_model)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers.prior.gated_block import GatedBlock, gate


def test_gate_is_tanh_of_the_first_half_times_sigmoid_of_the_second():
    values = np.array([[0.5, -1.0, 2.0, 0.0]], np.float32)
    expected = np.tanh([0.5, -1.0]) / (1.0 + np.exp(-np.array([2.0, 0.0])))
    np.testing.assert_allclose(np.asarray(gate(values)), [expected], rtol=1e-6)


@pytest.mark.parametrize("dilation", [1, 2])
def test_block_1_sees_only_what_comes_before_a_position(dilation):
    block = GatedBlock(4, kernel_size=3, first=True, dilation=dilation)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(1, 7, 7, 4)).astype(np.float32)
    vertical, horizontal = (np.asarray(out) for out in block(inputs, inputs))
    row, column = 3, 3
    for changed in [(row, column), (row, column + 1), (row + 1, column - 1)]:
        perturbed = inputs.copy()
        perturbed[0, changed[0], changed[1]] += 1.0
        _, again = (np.asarray(out) for out in block(perturbed, perturbed))
        # the horizontal stack at (i, j) never sees (i, j), later columns or later rows
        np.testing.assert_allclose(again[0, row, column], horizontal[0, row, column], atol=1e-6)
    earlier = inputs.copy()
    earlier[0, row, column - 1] += 1.0  # the code just before, in the same row
    _, again = (np.asarray(out) for out in block(earlier, earlier))
    assert np.abs(again[0, row, column] - horizontal[0, row, column]).max() > 1e-4
    below = inputs.copy()
    below[0, row + 1] += 1.0
    vertical_again, _ = (np.asarray(out) for out in block(below, below))
    # the vertical stack at row i sees rows <= i only
    np.testing.assert_allclose(vertical_again[0, : row + 1], vertical[0, : row + 1], atol=1e-6)


def test_kernel_size_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        GatedBlock(4, kernel_size=4)
