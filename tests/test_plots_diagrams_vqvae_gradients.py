"""plots.diagrams.vqvae_gradients: the forward and gradient paths drawn are the quantizer's."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from oasis_fixtures import figure_text

from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


def test_vqvae_gradients_shows_forward_and_gradient_paths_straight_through_and_the_losses():
    figure = diagrams.draw_vqvae_gradients()
    text = figure_text(figure)
    for element in [
        "straight-through",
        r"z_q = z_e + \mathrm{sg}[z_q - z_e]",  # the quantizer's output
        "stop-gradient",
        "reconstruction_loss",
        r"\mathrm{mean}((\mathrm{sg}[z_e] - e_k)^2)",  # codebook_loss
        r"\beta\ \mathrm{mean}((z_e - \mathrm{sg}[e_k])^2)",  # commitment_loss
        "codebook_loss",
        "commitment_loss",
        "EMA",
        "argmin",
        "encoder",
        "decoder",
    ]:
        assert element in text, element
    arrows = [patch.get_gid() for patch in figure.axes[0].patches]
    # forward chain and x_hat to the loss, the gradient back along it, straight-through, both
    # quantizer losses, and one line sample of each style in the legend
    assert arrows.count("arrow:forward") == 6 + 1 + 1 + 1
    assert arrows.count("arrow:gradient") == 3 + 1 + 1 + 2 + 1
    assert arrows.count("arrow:update") == 1 + 1


def test_the_gradients_drawn_are_the_quantizers():
    """The straight-through output passes the gradient to z_e unchanged; codebook_loss has
    no gradient for z_e and commitment_loss none for the codes: what the diagram draws."""
    import tensorflow as tf

    from oasis_helpers import quantizer

    layer = quantizer.VectorQuantizer(8, 2, init=None, dead_code_steps=None, seed=0)
    inputs = tf.Variable(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    weights = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
    with tf.GradientTape(persistent=True) as tape:
        outputs, losses = layer(inputs, training=True, return_losses=True)
        downstream = tf.reduce_sum(outputs * weights)
    np.testing.assert_allclose(tape.gradient(downstream, inputs), weights)  # copied to z_e
    assert tape.gradient(losses["codebook_loss"], inputs) is None
    assert tape.gradient(losses["commitment_loss"], layer.embeddings) is None
    assert tape.gradient(losses["codebook_loss"], layer.embeddings) is not None
    ema = quantizer.VectorQuantizerEMA(8, 2, init=None, dead_code_steps=None, seed=0)
    assert set(ema(inputs, training=True, return_losses=True)[1]) == {"commitment_loss"}
    assert "inputs32 + tf.stop_gradient(quantized - inputs32)" in inspect.getsource(
        quantizer.VectorQuantizer.call
    )
