"""Tests of oasis_helpers.quantizer.losses: ``vq_losses`` is the hand formula; who learns what."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from oasis_helpers import quantizer


def test_vq_losses_is_the_hand_formula():
    inputs = tf.constant([[0.2, 0.1], [0.9, 0.6]])
    codes = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    losses = quantizer.vq_losses(inputs, codes, commitment_cost=0.25)
    assert set(losses) == {"codebook_loss", "commitment_loss"}
    np.testing.assert_allclose(float(losses["codebook_loss"]), 0.055, rtol=1e-6)
    np.testing.assert_allclose(float(losses["commitment_loss"]), 0.25 * 0.055, rtol=1e-6)
    ema_losses = quantizer.vq_losses(inputs, codes, 0.5, codebook_loss=False)
    assert set(ema_losses) == {"commitment_loss"}
    # who learns what: the codebook loss trains the codes only, the commitment loss z_e only
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([inputs, codes])
        losses = quantizer.vq_losses(inputs, codes, 0.25)
    assert tape.gradient(losses["codebook_loss"], inputs) is None
    assert tape.gradient(losses["commitment_loss"], codes) is None
    np.testing.assert_allclose(
        tape.gradient(losses["commitment_loss"], inputs).numpy(),
        0.25 * 2 * (inputs.numpy() - codes.numpy()) / 4,
        rtol=1e-6,
    )
