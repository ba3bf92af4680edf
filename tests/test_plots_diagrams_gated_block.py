"""plots.diagrams.gated_block: every layer and shift named is the package's, and the receptive
field drawn is block 1's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from oasis_fixtures import figure_text

from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


def test_gated_block_names_every_layer_and_shift_of_the_package():
    from oasis_helpers.prior import gated_block
    from oasis_helpers.prior import model as prior_model

    text = figure_text(diagrams.draw_gated_block())
    block = gated_block.GatedBlock(4, conditional=True)
    layers = [block.vertical_conv, block.horizontal_conv, block.link, block.horizontal_output]
    layers += [block.vertical_bias, block.horizontal_bias]
    for layer in layers:
        assert layer.name in text, layer.name
    model = prior_model.GatedPixelCNN(num_embeddings=8, hidden_channels=4, num_layers=1)
    for layer in [model.position_hidden, model.position_features]:
        assert layer.name in text, layer.name
    for shift in ["down_shift", "right_shift"]:
        assert hasattr(gated_block, f"_{shift}")
        assert shift in text
    for element in ["tanh", r"\odot", r"\sigma", "residual", "dilation", "Fourier", "height"]:
        assert element in text, element


def test_the_receptive_field_drawn_is_that_of_block_1():
    """Perturb one code of either stack's input at a time: the horizontal output of block 1
    at the centre changes exactly for the positions of ``BLOCK_1_FIELD``."""
    import keras

    from oasis_helpers.prior import gated_block

    keras.utils.set_random_seed(0)
    block = gated_block.GatedBlock(3, kernel_size=3, first=True, dilation=1)
    size, centre = 7, 3
    base = np.random.default_rng(0).normal(size=(1, size, size, 3)).astype(np.float32)
    seen = {"vertical": set(), "horizontal": set()}
    reference = block(base, base)[1][0, centre, centre]
    for stack, (row, column) in itertools.product(seen, np.ndindex(size, size)):
        changed = {"vertical": base.copy(), "horizontal": base.copy()}
        changed[stack][0, row, column] += 1.0
        output = block(changed["vertical"], changed["horizontal"])[1][0, centre, centre]
        if np.abs(np.asarray(output) - np.asarray(reference)).max() > 1e-6:
            seen[stack].add((row - centre, column - centre))
    assert {stack: sorted(offsets) for stack, offsets in seen.items()} == {
        stack: sorted(offsets) for stack, offsets in diagrams.BLOCK_1_FIELD.items()
    }
