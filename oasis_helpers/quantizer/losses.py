"""The quantizer losses, the only place they are defined (:func:`vq_losses`).

The codebook loss ``mean((sg[z_e] - e_k)^2)`` trains the codebook; the commitment loss
``beta * mean((z_e - sg[e_k])^2)`` keeps the encoder near its codes (``sg``: stop-gradient;
means over all ``N * D`` elements).
"""

from __future__ import annotations

from keras import ops

__all__ = [
    "vq_losses",
]


def vq_losses(inputs, quantized, commitment_cost: float, codebook_loss: bool = True) -> dict:
    """The quantizer losses, the only place they are defined.

    For encoder outputs ``z_e`` (``inputs``) and their nearest codes ``e_k``
    (``quantized``, gathered from the codebook *with* its gradient), means over all
    ``N * D`` elements::

        codebook_loss   = mean((sg[z_e] - e_k)^2)            trains the codebook
        commitment_loss = beta * mean((z_e - sg[e_k])^2)     keeps z_e near its code

    Args:
        inputs: float32 ``[..., D]``, ``z_e``.
        quantized: float32 ``[..., D]``, ``e_k`` (the same tensor the forward pass used).
        commitment_cost: ``beta``.
        codebook_loss: False for an EMA codebook (moved by averages, not by a loss).

    Returns:
        ``{"codebook_loss": ..., "commitment_loss": ...}`` (float32 scalars; without
        ``"codebook_loss"`` when ``codebook_loss`` is False). Their sum is the
        quantizer's contribution to the training loss.
    """
    losses = {}
    if codebook_loss:
        losses["codebook_loss"] = ops.mean(ops.square(ops.stop_gradient(inputs) - quantized))
    losses["commitment_loss"] = commitment_cost * ops.mean(
        ops.square(inputs - ops.stop_gradient(quantized))
    )
    return losses
