"""One gated block of the PixelCNN (:class:`GatedBlock`): a vertical and a horizontal stack
step, with its causal shifts, and the gate (:func:`gate`) it shares with the fast sampler.

The maths of the stacks, the shifts and the position biases are in
:mod:`oasis_helpers.prior.model`'s docstring, with the model the blocks make up.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from oasis_helpers.prior.inputs import check_positive_int

__all__ = [
    "GatedBlock",
    "gate",
]


def gate(preactivation):
    """``tanh(a) * sigmoid(b)`` of ``preactivation = [a, b]`` split on the last axis.

    The gate of both stacks, in the full pass and in the fast sampler's cached steps.
    """
    first, second = ops.split(preactivation, 2, axis=-1)
    return ops.tanh(first) * ops.sigmoid(second)


def _down_shift(tensor):
    """Shift ``[B, h, w, C]`` down by one row (zeros enter at the top)."""
    return ops.pad(tensor[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def _right_shift(tensor):
    """Shift ``[B, h, w, C]`` right by one column (zeros enter on the left)."""
    return ops.pad(tensor[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


@keras.saving.register_keras_serializable(package="oasis_helpers")
class GatedBlock(layers.Layer):
    """One gated block: a vertical and a horizontal stack step.

    ``call(vertical, horizontal, position_features)`` with ``vertical`` and
    ``horizontal`` ``[B, h, w, C]`` and ``position_features`` ``[B, h, w, F]`` (or
    ``None``) returns the block's ``(vertical, horizontal)`` outputs ``[B, h, w, C]``.
    See :mod:`oasis_helpers.prior.model`'s docstring for the maths.

    Args:
        channels: ``C``, the width of both stacks.
        kernel_size: ``k`` (odd, >= 3); the vertical kernel is ``(k//2 + 1) x k``,
            the horizontal one ``1 x (k//2 + 1)``.
        first: block 1 ("type A"): the horizontal input is shifted right by one
            column and there is no residual connection.
        conditional: add gate biases computed from the features (coordinates, height).
        dilation: ``d`` (>= 1): both convolutions take every ``d``-th row/column, so the
            vertical one reads rows ``i - n*d, ..., i`` and columns ``j - n*d .. j + n*d``
            (step ``d``), the horizontal one columns ``j - n*d, ..., j`` (step ``d``).
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        first: bool = False,
        conditional: bool = False,
        dilation: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels)
        kernel_size = check_positive_int("kernel_size", kernel_size, 3)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (3, 5, 7, ...), got {kernel_size}")
        self.kernel_size = kernel_size
        self.first = bool(first)
        self.conditional = bool(conditional)
        self.dilation = check_positive_int("dilation", dilation)
        self.taps = kernel_size // 2  # n
        self.reach = self.taps * self.dilation  # n * d: rows above / columns either side
        gates = 2 * self.channels
        self.vertical_conv = layers.Conv2D(
            gates,
            (self.taps + 1, kernel_size),
            padding="valid",
            dilation_rate=self.dilation,
            name="vertical_conv",
        )
        self.horizontal_conv = layers.Conv2D(
            gates,
            (1, self.taps + 1),
            padding="valid",
            dilation_rate=(1, self.dilation),
            name="horizontal_conv",
        )
        self.link = layers.Conv2D(gates, 1, name="vertical_to_horizontal")
        self.horizontal_output = layers.Conv2D(self.channels, 1, name="horizontal_output")
        if self.conditional:
            self.vertical_bias = layers.Dense(gates, name="vertical_position_bias")
            self.horizontal_bias = layers.Dense(gates, name="horizontal_position_bias")

    # pieces shared by the full pass and the fast sampler --------------------------------------
    def position_biases(self, position_features):
        """Gate biases ``([..., 2C], [..., 2C])`` from features ``[..., F]`` (or ``(0, 0)``).

        Features ``[B, h, w, F]`` (or ``[B, 1, 1, F]``) give biases that broadcast
        against the stacks' pre-activations ``[B, h, w, 2C]``.
        """
        if not self.conditional or position_features is None:
            return 0.0, 0.0
        return self.vertical_bias(position_features), self.horizontal_bias(position_features)

    def vertical_preactivation(self, vertical, vertical_bias):
        """``VConv`` with causal padding: ``[B, r, w, C] -> [B, r, w, 2C]`` (rows ``<= i``)."""
        reach = self.reach
        padded = ops.pad(vertical, [[0, 0], [reach, 0], [reach, reach], [0, 0]])
        return self.vertical_conv(padded) + vertical_bias

    def call(self, vertical, horizontal, position_features=None):
        vertical_bias, horizontal_bias = self.position_biases(position_features)
        vertical_pre = self.vertical_preactivation(vertical, vertical_bias)
        link = self.link(_down_shift(vertical_pre))
        horizontal_in = _right_shift(horizontal) if self.first else horizontal
        padded = ops.pad(horizontal_in, [[0, 0], [0, 0], [self.reach, 0], [0, 0]])
        horizontal_pre = self.horizontal_conv(padded) + link + horizontal_bias
        horizontal_out = self.horizontal_output(gate(horizontal_pre))
        if not self.first:
            horizontal_out = horizontal + horizontal_out
        return gate(vertical_pre), horizontal_out

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "kernel_size": self.kernel_size,
                "first": self.first,
                "conditional": self.conditional,
                "dilation": self.dilation,
            }
        )
        return config
