"""The blind-spot model's layers: :class:`HoleConv2D` (a convolution blind to a square hole)
and :class:`GridContext` (grid coordinates and the slice height as features).

:func:`dilated_same_conv` is the dilated "same" convolution that :class:`HoleConv2D` runs
with its kernel's hole taps held at zero, so no layer sees into the hole.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from oasis_helpers.code_location import grid_coordinates

__all__ = [
    "GridContext",
    "HoleConv2D",
    "dilated_same_conv",
]


def dilated_same_conv(inputs: tf.Tensor, kernel: tf.Tensor, dilation: int) -> tf.Tensor:
    """A 'same' convolution at ``dilation`` built from undilated convolutions only.

    Inputs ``[B, h, w, C]``, kernel ``[k, k, C, F]``, output ``[B, h, w, F]`` with
    ``y[i, j] = sum_ab kernel[a, b] x[i + d (a - k // 2), j + d (b - k // 2)]`` (zeros
    outside the grid). A tap ``d a`` rows away stays in the same phase ``(i mod d, j mod d)``,
    so the grid (zero-padded to multiples of ``d``) is split into its ``d x d`` phases,
    ``[B d^2, h / d, w / d, C]``, each convolved with the undilated kernel, and interleaved
    back. It is what ``tf.space_to_batch`` does, without its halo.

    TensorFlow's default (Eigen) CPU kernels have no gradient for ``tf.nn.conv2d`` with
    ``dilations > 1`` (only oneDNN, on some CPUs, has one), so a dilated ``conv2d`` fails to
    train where ``TF_ENABLE_ONEDNN_OPTS=0`` or the CPU leaves oneDNN off (most AMD and older
    Intel CPUs); this runs everywhere, at about the speed of the dilated op where that
    exists (``benchmarks/cpu_kernels.py``, ``benchmarks/results/cpu_kernels.json``:
    ``results.<kernel set>.ring_d2_dilated_same_conv_ms`` against
    ``ring_d2_conv2d_dilated_ms``, null where the dilated op has no gradient).
    """
    if dilation == 1:
        return tf.nn.conv2d(inputs, kernel, 1, "SAME")
    shape = tf.shape(inputs)
    batch, height, width = shape[0], shape[1], shape[2]
    channels, filters = inputs.shape[-1], kernel.shape[-1]
    pad_rows, pad_cols = (-height) % dilation, (-width) % dilation
    padded = tf.pad(inputs, [[0, 0], [0, pad_rows], [0, pad_cols], [0, 0]])
    rows, cols = (height + pad_rows) // dilation, (width + pad_cols) // dilation
    phases = tf.reshape(padded, [batch, rows, dilation, cols, dilation, channels])
    phases = tf.transpose(phases, [0, 2, 4, 1, 3, 5])
    phases = tf.reshape(phases, [batch * dilation * dilation, rows, cols, channels])
    outputs = tf.nn.conv2d(phases, kernel, 1, "SAME")
    outputs = tf.reshape(outputs, [batch, dilation, dilation, rows, cols, filters])
    outputs = tf.transpose(outputs, [0, 3, 1, 4, 2, 5])
    outputs = tf.reshape(outputs, [batch, rows * dilation, cols * dilation, filters])
    return outputs[:, :height, :width]


@keras.saving.register_keras_serializable(package="oasis_helpers")
class HoleConv2D(keras.layers.Layer):
    """A 'same' convolution whose kernel taps within ``hole`` taps of the centre are zero.

    Kernel ``[2 r + 1, 2 r + 1, C_in, F]`` with ``r = reach``, multiplied by a fixed mask
    that zeroes ``|a| <= hole, |b| <= hole`` (tap offsets ``(a, b)``), applied with
    ``dilation``: the output at ``(i, j)`` depends on inputs at ``(i + d a, j + d b)``
    outside that square only. Inputs ``[B, h, w, C_in]``, outputs ``[B, h, w, F]``.
    """

    def __init__(self, filters: int, reach: int, hole: int, dilation: int = 1, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= hole < reach:
            raise ValueError(f"need 0 <= hole < reach, got hole={hole}, reach={reach}")
        if filters < 1 or dilation < 1:
            raise ValueError(f"filters and dilation must be >= 1, got {filters}, {dilation}")
        self.filters, self.reach, self.hole, self.dilation = filters, reach, hole, dilation
        size = 2 * reach + 1
        mask = np.ones((size, size, 1, 1), np.float32)
        mask[reach - hole : reach + hole + 1, reach - hole : reach + hole + 1] = 0.0
        self._mask = mask

    def build(self, input_shape):
        size = 2 * self.reach + 1
        self.kernel = self.add_weight(
            name="kernel", shape=(size, size, input_shape[-1], self.filters)
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs):
        kernel = self.kernel * tf.constant(self._mask, dtype=self.kernel.dtype)
        outputs = dilated_same_conv(inputs, kernel, self.dilation)
        return outputs + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "reach": self.reach,
            "hole": self.hole,
            "dilation": self.dilation,
        }


@keras.saving.register_keras_serializable(package="oasis_helpers")
class GridContext(keras.layers.Layer):
    """Append the grid coordinates and the slice height to every position.

    Inputs ``features [B, h, w, C]`` and ``slice_heights [B, 1]``; output ``[B, h, w, C + 3]``
    with ``[..., C:C + 2]`` the coordinates ``(i / (h - 1), j / (w - 1))``
    (:func:`oasis_helpers.code_location.grid_coordinates`, as the prior's) and ``[..., C + 2]``
    the height.
    """

    def call(self, features, slice_heights):
        shape = tf.shape(features)
        grid = grid_coordinates(shape[1], shape[2], features.dtype)[None]
        grid = tf.broadcast_to(grid, tf.concat([shape[:3], [2]], 0))
        level = tf.reshape(tf.cast(slice_heights, features.dtype), [-1, 1, 1, 1])
        level = tf.broadcast_to(level, tf.concat([shape[:3], [1]], 0))
        return tf.concat([features, grid, level], axis=-1)

    def compute_output_shape(self, features_shape, slice_heights_shape=None):
        return (*features_shape[:-1], features_shape[-1] + 3)
