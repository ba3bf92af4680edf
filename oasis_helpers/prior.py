"""A gated PixelCNN prior over VQ-VAE code grids: model, fast sampling, likelihood, quality.

The prior (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders") factorises the probability of a code grid ``c`` of ``h x w`` codes from
a codebook of ``K`` in raster order (row by row, left to right)::

    p(c) = prod_{i, j} p(c[i, j] | c[<i, :], c[i, <j]  [, position])

Shapes, for ``B`` grids::

    codes      [B, h, w]    int32 in [0, K)
    positions  [B]          float32 in [0, 1]: the slice's normalised axial height
                            (0 lowest slice of its subject, 1 highest); only when
                            the model is ``conditional``
    logits     [B, h, w, K] float32: unnormalised log p(c[i, j] = k | past)

Architecture (``GatedPixelCNN``)::

    x  = Embedding(K, C)(codes)                            [B, h, w, C]
    v, h = x, x
    for each of L gated blocks (the first is of "type A": it cannot see c[i, j]):
        v_pre = VConv(v)      + bias_v(position)           [B, h, w, 2C]
        v     = tanh(v_pre[:C]) * sigmoid(v_pre[C:])
        h_pre = HConv(h') + Conv1x1(down(v_pre)) + bias_h(position)
        h     = [h +] Conv1x1(tanh(h_pre[:C]) * sigmoid(h_pre[C:]))   (residual after block 1)
    logits = Conv1x1_K(ReLU(Conv1x1(ReLU(h))))

* ``VConv`` has an ``(n + 1) x k`` kernel (``n = k // 2``) over rows ``i-n .. i``
  and columns ``j-n .. j+n`` (causal padding: ``n`` zero rows on top, ``n`` zero
  columns on each side). The vertical stack at row ``i`` thus sees rows ``<= i``;
  ``down`` (shift down by one row) makes what reaches the horizontal stack see
  rows ``< i`` only: every position above, in the whole receptive-field width,
  so there is **no blind spot**.
* ``HConv`` has a ``1 x (n + 1)`` kernel over columns ``j-n .. j`` of the same row
  (``n`` zero columns on the left). In block 1 its input ``h'`` is ``x`` shifted
  right by one column, so position ``(i, j)`` never sees its own code; later blocks
  see ``(i, j)`` of the previous block, which already excludes ``c[i, j]``.
* Dilation (``dilations``, repeated over the blocks): block ``b`` with dilation ``d``
  reads every ``d``-th row/column, over rows ``i-n*d .. i`` and columns
  ``j-n*d .. j+n*d`` (vertical) and ``j-n*d .. j`` (horizontal), with ``n*d`` zeros of
  padding instead of ``n``; the shifts that make it causal are unchanged, so a
  schedule like ``(1, 2, 4, 8)`` reaches 16 rows up with 4 blocks (31 with 8).
* Conditioning: ``position -> Dense(16, tanh)`` (shared), then per block two
  ``Dense(2C)`` that give the gate biases ``bias_v`` and ``bias_h``.

Masks are implemented by shifting and cropping, not by masked kernels; the tests
check causality by perturbing codes (never by reading constants).

Fast sampling (Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models"): :class:`FastSampler` keeps per-block caches. Once a row
is complete, each block's vertical convolution runs **once on that row** (its
input window is the cached last ``n`` rows plus the new one), which gives the
vertical contribution of every position of the next row. Within a row, each
step runs the horizontal stack on **one position** (a window of the last ``n + 1``
inputs per block, as matrix products) and the output head, and draws one code
per grid of the batch. The whole row is a compiled ``tf.while_loop``. Draws use
``tfp.distributions.Categorical`` with a stateless seed derived from
``(seed, i * w + j)``, so that the naive sampler (:func:`sample_codes_naive`, one
full-network pass per position, as in the keras.io example) draws the same
codes from the same logits.

Likelihood is reported in bits per code: ``-log2 p(c[i, j] | past)`` averaged over
positions (:func:`nll_map_bits`, :func:`nll_bits_per_slice`, :func:`nll_bits_per_code`).
Baselines with the same interface (``fit``, ``nll_map_bits``, ``sample``):
:class:`UniformBaseline` (``log2 K``), :class:`UnigramBaseline` (training code
frequencies) and :class:`NeighbourBaseline` (a smoothed count table of each code
given its left and upper neighbours).
"""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from oasis_helpers import runs

__all__ = [
    "DEFAULT_PRIOR",
    "DEFAULT_PRIOR_TRAINING",
    "FastSampler",
    "GatedBlock",
    "GatedPixelCNN",
    "NeighbourBaseline",
    "UniformBaseline",
    "UnigramBaseline",
    "compile_prior",
    "draw_codes",
    "load_prior",
    "make_code_dataset",
    "make_prior",
    "nll_bits_per_code",
    "nll_bits_per_slice",
    "nll_map_bits",
    "plain_pixelcnn_receptive_field",
    "prior_logits",
    "receptive_field_map",
    "sample_codes",
    "sample_codes_naive",
]

#: The default prior: what notebook 04 trains (the codebook size comes from notebook 03).
#: Chosen with ``benchmarks/prior_budget.py`` for a CPU without oneDNN: 4 blocks of 32
#: channels train at about twice the grids per second of 8 and, at the learning rate of
#: :data:`DEFAULT_PRIOR_TRAINING`, beat every baseline on bits per code and Frechet
#: distance within its steps (``summary.defaults`` of its results file).
DEFAULT_PRIOR: dict[str, Any] = {
    "num_embeddings": 256,
    "hidden_channels": 32,
    "num_layers": 4,
    "kernel_size": 3,
    "head_channels": 128,
    "conditional": True,
    # where in the slice a position is (grid coordinates through the position network
    # below): without it a receptive field of a few codes cannot tell the middle of a slice
    # from its edge, and samples were shapeless blobs of tissue
    "coordinates": True,
    # dilation of each block's convolutions, repeated over the blocks: (1, 2, 4, 8) lets 4
    # blocks of kernel 3 see 16 rows up (8 blocks: 31; (1,) alone: 5); the position network
    # below says where in the slice a position is, which a brain's outline needs most
    "dilations": (1, 2, 4, 8),
    # frequencies f of the Fourier features sin(pi f u), cos(pi f u) of each position input u
    # (grid coordinates, height) that feed a small network (hidden layer of
    # POSITION_HIDDEN units) before the shared features; () keeps the single Dense layer.
    # Measured on the demo (400 steps of 16 grids, 64 samples against the 96 test slices,
    # /tmp scripts, numbers in the README): Frechet 0.039 with coordinates, dilations
    # (1, 2, 4, 8) and these frequencies, against 1.55 with the single Dense layer,
    # 0.76 without coordinates and 1.42 with neither (unigram codes: 0.26)
    "feature_frequencies": (1, 2, 4, 8),
}

#: How notebook 04 trains the default prior: Adam with a cosine schedule on batches of code
#: grids for ``epochs * steps_per_epoch`` steps. The training stops by its epochs, so its
#: result does not depend on the machine's speed; ``max_train_minutes`` is only a safety net
#: that a default run on a slow CPU does not reach (``benchmarks/prior_budget.py``:
#: ``summary.defaults.train_seconds``). What the samples' layout needs is optimizer steps,
#: not grids: 100 steps of 16 grids at 2e-3 left them shapeless (Frechet distance worse
#: than the unigram codes'; ``summary.8_blocks_lr2e-3_100_steps``), and 160 steps of 16 at
#: 6e-3 did so on some codes; 320 steps of 8 grids at 4e-3 cost about the same time.
DEFAULT_PRIOR_TRAINING: dict[str, Any] = {
    "epochs": 16,
    "steps_per_epoch": 20,
    "batch_size": 8,
    "learning_rate": 4e-3,
    "max_train_minutes": 20.0,
}

#: Smoothing values tried by :meth:`NeighbourBaseline.fit` when given validation grids.
SMOOTHING_CANDIDATES = (0.5, 2.0, 8.0, 32.0, 128.0)

#: Width of the shared features (of the grid coordinates and the slice's height) that feed
#: each block's gate biases.
POSITION_FEATURES = 32
#: Hidden width of the position network when it has Fourier features.
POSITION_HIDDEN = 64

_LOG2 = math.log(2.0)


def _gate(preactivation):
    """``tanh(a) * sigmoid(b)`` of ``preactivation = [a, b]`` split on the last axis."""
    first, second = ops.split(preactivation, 2, axis=-1)
    return ops.tanh(first) * ops.sigmoid(second)


def _down_shift(tensor):
    """Shift ``[B, h, w, C]`` down by one row (zeros enter at the top)."""
    return ops.pad(tensor[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def _right_shift(tensor):
    """Shift ``[B, h, w, C]`` right by one column (zeros enter on the left)."""
    return ops.pad(tensor[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


def _check_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="oasis_helpers")
class GatedBlock(layers.Layer):
    """One gated block: a vertical and a horizontal stack step.

    ``call(vertical, horizontal, position_features)`` with ``vertical`` and
    ``horizontal`` ``[B, h, w, C]`` and ``position_features`` ``[B, h, w, F]`` (or
    ``None``) returns the block's ``(vertical, horizontal)`` outputs ``[B, h, w, C]``.
    See the module docstring for the maths.

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
        self.channels = _check_positive_int("channels", channels)
        kernel_size = _check_positive_int("kernel_size", kernel_size, 3)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (3, 5, 7, ...), got {kernel_size}")
        self.kernel_size = kernel_size
        self.first = bool(first)
        self.conditional = bool(conditional)
        self.dilation = _check_positive_int("dilation", dilation)
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
        horizontal_out = self.horizontal_output(_gate(horizontal_pre))
        if not self.first:
            horizontal_out = horizontal + horizontal_out
        return _gate(vertical_pre), horizontal_out

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


@keras.saving.register_keras_serializable(package="oasis_helpers")
class GatedPixelCNN(keras.Model):
    """Gated PixelCNN over code grids (see the module docstring for the maths).

    ``model(codes)`` (unconditional) or ``model((codes, positions))``
    (conditional) returns logits ``[B, h, w, K]`` for codes ``[B, h, w]`` int32
    and positions ``[B]`` (or ``[B, 1]``) float32 in ``[0, 1]``. Fully
    convolutional: any ``h, w``. Train with :func:`compile_prior` (sparse
    cross-entropy from logits, in nats per code) and ``training.fit`` on
    :func:`make_code_dataset`.

    Args:
        num_embeddings: ``K``, the codebook size of the VQ-VAE.
        hidden_channels: ``C``, width of the embedding and of both stacks.
        num_layers: ``L``, gated blocks (>= 1).
        kernel_size: ``k`` (odd, >= 3); the receptive field reaches
            ``L * (k // 2)`` rows above (plus one) and as many columns left/right.
        head_channels: width of the output head's hidden 1x1 convolution.
        conditional: condition on the slice's normalised axial position.
        coordinates: give every position its normalised grid coordinates
            ``(i / (h - 1), j / (w - 1))`` through the gate biases, so that the prior
            knows where in the slice it is (a brain sits in the middle of its grid;
            without them, a receptive field of a few codes cannot tell).
        dilations: dilation of the blocks' convolutions, repeated over the blocks
            (block ``b`` gets ``dilations[b % len(dilations)]``); e.g. ``(1, 2, 4, 8)``
            with 8 blocks of kernel 3 reaches 31 rows up instead of 9. Each block's
            reach is ``(k // 2) * d``; a dilation larger than one plus the reach of the
            blocks before it (e.g. ``(1, 4)``) leaves holes in the receptive field.
    """

    def __init__(
        self,
        num_embeddings: int = DEFAULT_PRIOR["num_embeddings"],
        hidden_channels: int = DEFAULT_PRIOR["hidden_channels"],
        num_layers: int = DEFAULT_PRIOR["num_layers"],
        kernel_size: int = DEFAULT_PRIOR["kernel_size"],
        head_channels: int = DEFAULT_PRIOR["head_channels"],
        conditional: bool = DEFAULT_PRIOR["conditional"],
        coordinates: bool = DEFAULT_PRIOR["coordinates"],
        dilations=DEFAULT_PRIOR["dilations"],
        feature_frequencies=DEFAULT_PRIOR["feature_frequencies"],
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_embeddings = _check_positive_int("num_embeddings", num_embeddings, 2)
        self.hidden_channels = _check_positive_int("hidden_channels", hidden_channels)
        self.num_layers = _check_positive_int("num_layers", num_layers)
        self.kernel_size = _check_positive_int("kernel_size", kernel_size, 3)
        self.head_channels = _check_positive_int("head_channels", head_channels)
        self.conditional = bool(conditional)
        self.coordinates = bool(coordinates)
        if isinstance(dilations, (int, np.integer)):
            dilations = (dilations,)
        if len(dilations) == 0:
            raise ValueError("dilations must name at least one dilation, got an empty sequence")
        self.dilations = tuple(_check_positive_int("dilations", value) for value in dilations)
        if isinstance(feature_frequencies, (int, float, np.number)):
            feature_frequencies = (feature_frequencies,)
        self.feature_frequencies = tuple(float(value) for value in feature_frequencies)
        if any(not value > 0 for value in self.feature_frequencies):
            raise ValueError(
                f"feature_frequencies must be positive, got {list(self.feature_frequencies)}"
            )
        self.position_hidden = (
            layers.Dense(POSITION_HIDDEN, activation="relu", name="position_hidden")
            if self.has_features and self.feature_frequencies
            else None
        )
        self.embedding = layers.Embedding(self.num_embeddings, self.hidden_channels, name="embed")
        self.position_features = (
            layers.Dense(POSITION_FEATURES, activation="tanh", name="position_features")
            if self.has_features
            else None
        )
        self.blocks = [
            GatedBlock(
                self.hidden_channels,
                self.kernel_size,
                first=index == 0,
                conditional=self.has_features,
                dilation=self.dilations[index % len(self.dilations)],
                name=f"gated_block_{index + 1}",
            )
            for index in range(self.num_layers)
        ]
        self.head_hidden = layers.Conv2D(self.head_channels, 1, name="head_hidden")
        self.head_logits = layers.Conv2D(self.num_embeddings, 1, name="head_logits")
        self.build()

    def build(self, input_shape=None):
        if not self.embedding.built:  # one tiny forward pass creates every weight
            codes = ops.zeros((1, 2, 2), dtype="int32")
            positions = ops.zeros((1, 1), dtype="float32") if self.conditional else None
            self._forward(codes, positions)
        self.built = True

    # inputs -------------------------------------------------------------------------------------
    def split_inputs(self, inputs):
        """``(codes [B, h, w] int32, positions [B, 1] float32 or None)`` from ``inputs``."""
        if isinstance(inputs, dict):
            codes, positions = inputs["codes"], inputs.get("positions")
        elif isinstance(inputs, (tuple, list)):
            if len(inputs) != 2:
                raise ValueError(
                    f"expected codes or (codes, positions) as inputs, got {len(inputs)} items"
                )
            codes, positions = inputs
        else:
            codes, positions = inputs, None
        if self.conditional and positions is None:
            raise ValueError(
                "this prior is conditional: call it with (codes, positions), positions "
                "float32 [B] in [0, 1]"
            )
        codes = ops.cast(codes, "int32")
        if len(codes.shape) != 3:
            raise ValueError(f"expected codes of shape [B, h, w], got {tuple(codes.shape)}")
        if self.conditional:
            positions = ops.reshape(ops.cast(positions, "float32"), (-1, 1))
        else:
            positions = None
        return codes, positions

    @property
    def has_features(self) -> bool:
        """Whether the gates get biases from coordinates and/or the slice's height."""
        return self.conditional or self.coordinates

    def feature_map(self, positions, batch, height, width):
        """Shared features ``[B, h, w, 32]`` (``[B, 1, 1, 32]`` with the height alone).

        The inputs ``u`` are, per position, the grid coordinates
        ``(i / (h - 1), j / (w - 1))`` (when ``coordinates``) and the slice's height
        (when ``conditional``). With ``feature_frequencies`` ``f_1..f_m`` they are
        expanded to ``[u, sin(pi f u), cos(pi f u)]`` (Fourier features, so that a
        small network can draw a brain's outline as a function of where it is) and
        pass ``Dense(64, relu)``; then the shared ``Dense(32, tanh)``. ``None`` when
        the model has neither input.
        """
        if not self.has_features:
            return None
        parts = []
        if self.coordinates:
            rows = ops.cast(ops.arange(height), "float32") / ops.cast(
                ops.maximum(height - 1, 1), "float32"
            )
            columns = ops.cast(ops.arange(width), "float32") / ops.cast(
                ops.maximum(width - 1, 1), "float32"
            )
            grid = ops.stack(
                [
                    ops.broadcast_to(rows[:, None], (height, width)),
                    ops.broadcast_to(columns[None, :], (height, width)),
                ],
                axis=-1,
            )
            parts.append(ops.broadcast_to(grid[None], (batch, height, width, 2)))
        if self.conditional:
            heights = ops.reshape(ops.cast(positions, "float32"), (-1, 1, 1, 1))
            if self.coordinates:
                heights = ops.broadcast_to(heights, (batch, height, width, 1))
            parts.append(heights)
        inputs = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        if self.position_hidden is not None:
            frequencies = ops.convert_to_tensor(self.feature_frequencies, "float32") * math.pi
            angles = [  # [..., F] per input: pi f u
                inputs[..., index : index + 1] * frequencies for index in range(inputs.shape[-1])
            ]
            inputs = ops.concatenate(
                [inputs, *(ops.sin(angle) for angle in angles), *(ops.cos(a) for a in angles)],
                axis=-1,
            )
            inputs = self.position_hidden(inputs)
        return self.position_features(inputs)

    def head(self, horizontal):
        """Logits ``[..., K]`` from the last horizontal output ``[..., C]`` (1x1 layers)."""
        hidden = ops.relu(self.head_hidden(ops.relu(horizontal)))
        return self.head_logits(hidden)

    def _forward(self, codes, positions):
        shape = ops.shape(codes)
        features = self.feature_map(positions, shape[0], shape[1], shape[2])
        embedded = self.embedding(codes)
        vertical, horizontal = embedded, embedded
        for block in self.blocks:
            vertical, horizontal = block(vertical, horizontal, features)
        return self.head(horizontal)

    def call(self, inputs, training=False):
        codes, positions = self.split_inputs(inputs)
        return self._forward(codes, positions)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (tuple, list)) and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        return tuple(input_shape) + (self.num_embeddings,)

    @property
    def receptive_field(self) -> dict[str, int]:
        """Rows above and columns left/right of a position that its logits can see.

        ``sum_b (k // 2) * d_b`` over the blocks (plus one row above and one column left
        from the first block's shifts).
        """
        reach = sum(block.reach for block in self.blocks)
        return {
            "rows_above": reach + 1,
            "columns_left": reach + 1,
            "columns_right": reach,
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "hidden_channels": self.hidden_channels,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "head_channels": self.head_channels,
                "conditional": self.conditional,
                "coordinates": self.coordinates,
                "dilations": list(self.dilations),
                "feature_frequencies": list(self.feature_frequencies),
            }
        )
        return config


def compile_prior(model: GatedPixelCNN, learning_rate: float = 1e-3, jit_compile="auto"):
    """Compile ``model`` with Adam and sparse cross-entropy from logits (nats per code).

    Bits per code are ``loss / ln 2``. Returns the model.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def make_prior(learning_rate: float = 1e-3, **config) -> GatedPixelCNN:
    """A compiled :class:`GatedPixelCNN`: ``DEFAULT_PRIOR`` updated with ``config``."""
    unknown = set(config) - set(DEFAULT_PRIOR)
    if unknown:
        raise ValueError(
            f"unknown prior settings {sorted(unknown)}; allowed: {sorted(DEFAULT_PRIOR)}"
        )
    return compile_prior(GatedPixelCNN(**{**DEFAULT_PRIOR, **config}), learning_rate)


def load_prior(path: str | os.PathLike, compile: bool = True) -> GatedPixelCNN:
    """Load a saved ``prior.keras`` with ``safe_mode=True``; ``FileNotFoundError`` if missing."""
    return runs.load_saved_model(path, GatedPixelCNN, "04_pixelcnn_prior", compile=compile)


def _check_codes(codes, num_embeddings: int, name: str = "codes") -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 3:
        raise ValueError(f"{name} must have shape [N, h, w], got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= num_embeddings):
        raise ValueError(
            f"{name} must lie in [0, {num_embeddings - 1}], got values in "
            f"[{codes.min()}, {codes.max()}]"
        )
    return codes.astype(np.int32)


def _check_positions(positions, count: int, conditional: bool) -> np.ndarray | None:
    if not conditional:
        return None
    if positions is None:
        raise ValueError("this prior is conditional: pass positions (float32 [N] in [0, 1])")
    positions = np.broadcast_to(np.asarray(positions, dtype=np.float32).reshape(-1), (count,))
    if positions.size and (positions.min() < 0 or positions.max() > 1):
        raise ValueError(
            f"positions must lie in [0, 1], got values in [{positions.min()}, {positions.max()}]"
        )
    return np.ascontiguousarray(positions)


def make_code_dataset(
    codes,
    positions=None,
    batch_size: int = 32,
    shuffle: bool = True,
    repeat: bool = True,
    seed: int = 0,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of training pairs for the prior.

    Yields ``(codes, codes)`` or, with ``positions``, ``((codes, positions), codes)``:
    codes int32 ``[B, h, w]`` are both the input and the target (the model's
    causality makes this next-code prediction).
    """
    codes = np.asarray(codes).astype(np.int32)
    if codes.ndim != 3 or len(codes) == 0:
        raise ValueError(f"codes must have shape [N, h, w] with N >= 1, got {codes.shape}")
    batch_size = _check_positive_int("batch_size", batch_size)
    if positions is None:
        dataset = tf.data.Dataset.from_tensor_slices((codes, codes))
    else:
        positions = np.asarray(positions, dtype=np.float32).reshape(-1)
        if len(positions) != len(codes):
            raise ValueError(f"got {len(positions)} positions for {len(codes)} code grids")
        dataset = tf.data.Dataset.from_tensor_slices(((codes, positions), codes))
    if shuffle:
        dataset = dataset.shuffle(min(len(codes), 10_000), seed=seed)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)


def receptive_field_map(model: GatedPixelCNN, height: int, width: int, target) -> np.ndarray:
    """Which codes the logits at ``target = (row, column)`` depend on, measured by perturbation.

    Changes one code at a time (each to another value) and records whether the
    logits at ``target`` change: bool ``[height, width]``. Measured, not derived
    from the architecture, so it also checks the masks.
    """
    row, column = target
    rng = np.random.default_rng(0)
    base = rng.integers(0, model.num_embeddings, (height, width)).astype(np.int32)
    grids = np.repeat(base[None], height * width + 1, axis=0)
    for index in range(height * width):
        grids[index + 1].flat[index] = (base.flat[index] + 1) % model.num_embeddings
    positions = np.full(len(grids), 0.5, np.float32) if model.conditional else None
    logits = prior_logits(model, grids, positions)[:, row, column]
    changed = np.abs(logits[1:] - logits[:1]).max(axis=-1) > 1e-6
    return changed.reshape(height, width)


def plain_pixelcnn_receptive_field(
    num_layers: int, kernel_size: int, height: int, width: int, target
) -> np.ndarray:
    """Receptive field ``[height, width]`` (bool) of a plain masked PixelCNN (one stack).

    The original PixelCNN stacks ``k x k`` convolutions whose mask keeps the rows
    above and the codes left of the centre (type A; type B also the centre). A
    position's field is propagated back layer by layer; the part above-right that
    it never reaches is the blind spot that the two-stack design removes.
    """
    reach = kernel_size // 2
    field = np.zeros((height, width), bool)
    field[target] = True
    for layer in reversed(range(num_layers)):
        grown = np.zeros_like(field)
        for row, column in zip(*np.nonzero(field), strict=True):
            for d_row in range(-reach, 1):
                for d_column in range(-reach, reach + 1):
                    if d_row == 0 and (d_column > 0 or (d_column == 0 and layer == 0)):
                        continue
                    source = (row + d_row, column + d_column)
                    if 0 <= source[0] < height and 0 <= source[1] < width:
                        grown[source] = True
        field = grown
    return field


# ---------------------------------------------------------------------------------------------
# likelihood
# ---------------------------------------------------------------------------------------------
def _logits_function(model: GatedPixelCNN):
    function = getattr(model, "_oasis_logits_function", None)
    if function is None:

        def logits(codes, positions):
            return model._forward(codes, positions if model.conditional else None)

        function = tf.function(logits, reduce_retracing=True)
        model._oasis_logits_function = function
    return function


def prior_logits(model: GatedPixelCNN, codes, positions=None, batch_size: int = 64) -> np.ndarray:
    """Logits ``[N, h, w, K]`` of ``model`` for ``codes`` ``[N, h, w]`` (compiled, batched)."""
    codes = _check_codes(codes, model.num_embeddings)
    positions = _check_positions(positions, len(codes), model.conditional)
    function = _logits_function(model)
    outputs = []
    for start in range(0, len(codes), batch_size):
        batch_positions = (
            tf.constant(positions[start : start + batch_size])
            if positions is not None
            else tf.zeros((0,), tf.float32)
        )
        outputs.append(
            np.asarray(function(tf.constant(codes[start : start + batch_size]), batch_positions))
        )
    return np.concatenate(outputs, axis=0)


def _categorical(logits):
    import tensorflow_probability as tfp

    return tfp.distributions.Categorical(logits=logits)


def nll_map_bits(model: GatedPixelCNN, codes, positions=None, batch_size: int = 64) -> np.ndarray:
    """Per-position negative log-likelihood in bits, ``[N, h, w]``.

    ``-log2 p(c[i, j] | c[<i, :], c[i, <j])`` from ``tfp.distributions.Categorical``.
    High values mark where the prior is surprised.
    """
    codes = _check_codes(codes, model.num_embeddings)
    positions = _check_positions(positions, len(codes), model.conditional)
    maps = []
    for start in range(0, len(codes), batch_size):
        batch = codes[start : start + batch_size]
        logits = prior_logits(
            model,
            batch,
            None if positions is None else positions[start : start + batch_size],
            batch_size,
        )
        log_probs = _categorical(logits).log_prob(batch)
        maps.append(-np.asarray(log_probs) / _LOG2)
    return np.concatenate(maps, axis=0).astype(np.float32)


def nll_bits_per_slice(model: GatedPixelCNN, codes, positions=None, batch_size: int = 64):
    """Mean negative log-likelihood of each grid, bits per code, ``[N]``."""
    return nll_map_bits(model, codes, positions, batch_size).mean(axis=(1, 2))


def nll_bits_per_code(model: GatedPixelCNN, codes, positions=None, batch_size: int = 64) -> float:
    """Mean negative log-likelihood over all positions of all grids, bits per code."""
    return float(nll_map_bits(model, codes, positions, batch_size).mean())


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------
class UniformBaseline:
    """Every code equally likely: ``log2 K`` bits per code."""

    def __init__(self, num_embeddings: int):
        self.num_embeddings = _check_positive_int("num_embeddings", num_embeddings, 2)

    def fit(self, codes) -> UniformBaseline:
        return self

    def nll_map_bits(self, codes) -> np.ndarray:
        codes = _check_codes(codes, self.num_embeddings)
        return np.full(codes.shape, math.log2(self.num_embeddings), dtype=np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.integers(0, self.num_embeddings, (count, height, width)).astype(np.int32)


class UnigramBaseline:
    """Codes drawn independently from the (additively smoothed) training frequencies.

    ``p(k) = (n_k + smoothing) / (N + K * smoothing)``; :meth:`entropy_bits` is
    ``-sum_k p(k) log2 p(k)``, the bits per code of this model on its own training codes.
    """

    def __init__(self, num_embeddings: int, smoothing: float = 0.5):
        self.num_embeddings = _check_positive_int("num_embeddings", num_embeddings, 2)
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        self.smoothing = float(smoothing)
        self.probabilities = np.full(self.num_embeddings, 1.0 / self.num_embeddings)

    def fit(self, codes) -> UnigramBaseline:
        codes = _check_codes(codes, self.num_embeddings)
        counts = np.bincount(codes.ravel(), minlength=self.num_embeddings).astype(np.float64)
        self.probabilities = (counts + self.smoothing) / (
            counts.sum() + self.smoothing * len(counts)
        )
        return self

    def entropy_bits(self) -> float:
        probabilities = self.probabilities
        return float(-(probabilities * np.log2(probabilities)).sum())

    def nll_map_bits(self, codes) -> np.ndarray:
        codes = _check_codes(codes, self.num_embeddings)
        return (-np.log2(self.probabilities)[codes]).astype(np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        draws = rng.choice(self.num_embeddings, size=(count, height, width), p=self.probabilities)
        return draws.astype(np.int32)


class NeighbourBaseline:
    """A smoothed count table of each code given its left and upper neighbours.

    With ``l = c[i, j-1]`` and ``u = c[i-1, j]`` (the symbol ``K`` outside the grid)::

        p(k | l, u) = (n(l, u, k) + smoothing * p_unigram(k)) / (n(l, u) + smoothing)

    a Dirichlet-smoothed table that falls back on the unigram frequencies for
    rare contexts. Counts are stored sparsely (only the observed triples).
    :meth:`sample` draws grids in raster order from this table.
    """

    def __init__(self, num_embeddings: int, smoothing: float = 4.0):
        self.num_embeddings = _check_positive_int("num_embeddings", num_embeddings, 2)
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        self.smoothing = float(smoothing)
        self.unigram = UnigramBaseline(self.num_embeddings)
        size = (self.num_embeddings + 1) ** 2
        self.context_totals = np.zeros(size, dtype=np.int64)
        self.keys = np.zeros(0, dtype=np.int64)  # sorted context * K + code
        self.key_counts = np.zeros(0, dtype=np.int64)
        self.cumulative = np.zeros(0, dtype=np.int64)

    def _contexts(self, codes: np.ndarray) -> np.ndarray:
        outside = self.num_embeddings
        left = np.full_like(codes, outside)
        left[:, :, 1:] = codes[:, :, :-1]
        upper = np.full_like(codes, outside)
        upper[:, 1:, :] = codes[:, :-1, :]
        return left.astype(np.int64) * (outside + 1) + upper.astype(np.int64)

    def fit(self, codes, validation_codes=None, candidates=SMOOTHING_CANDIDATES):
        """Count the triples of ``codes`` ``[N, h, w]``; returns ``self``.

        With ``validation_codes``, ``smoothing`` becomes the candidate with the lowest
        bits per code on them (chosen on held-out grids, never on the test grids).
        """
        codes = _check_codes(codes, self.num_embeddings)
        self._count(codes)
        if validation_codes is not None:
            validation_codes = _check_codes(validation_codes, self.num_embeddings)
            scores = {}
            for candidate in candidates:
                self.smoothing = float(candidate)
                scores[self.smoothing] = float(self.nll_map_bits(validation_codes).mean())
            self.smoothing = min(scores, key=scores.get)
            self.validation_scores = scores
        return self

    def _count(self, codes: np.ndarray) -> None:
        self.unigram.fit(codes)
        contexts = self._contexts(codes).ravel()
        keys = contexts * self.num_embeddings + codes.ravel()
        self.keys, self.key_counts = np.unique(keys, return_counts=True)
        self.cumulative = np.cumsum(self.key_counts)
        self.context_totals = np.bincount(contexts, minlength=(self.num_embeddings + 1) ** 2)

    def _counts_of(self, keys: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0:
            return np.zeros(keys.shape, dtype=np.int64)
        index = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return np.where(self.keys[index] == keys, self.key_counts[index], 0)

    def probability(self, codes_at, contexts) -> np.ndarray:
        """``p(code | context)`` for arrays of codes and context ids of the same shape."""
        counts = self._counts_of(contexts * self.num_embeddings + codes_at)
        totals = self.context_totals[contexts]
        base = self.unigram.probabilities[codes_at]
        return (counts + self.smoothing * base) / (totals + self.smoothing)

    def nll_map_bits(self, codes) -> np.ndarray:
        codes = _check_codes(codes, self.num_embeddings)
        contexts = self._contexts(codes)
        return (-np.log2(self.probability(codes.astype(np.int64), contexts))).astype(np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
        """Grids ``[count, height, width]`` drawn in raster order from the smoothed table.

        Each draw is the mixture of its two parts: with probability
        ``n(l, u) / (n(l, u) + smoothing)`` one of the context's observed codes
        (in proportion to its count), else a unigram draw. An unfitted table has no
        observed codes: its grids are unigram draws (uniform, before any fit).
        """
        rng = np.random.default_rng(seed)
        outside = self.num_embeddings
        codes = np.zeros((count, height, width), dtype=np.int64)
        unigram_cumulative = np.cumsum(self.unigram.probabilities)
        unigram_cumulative /= unigram_cumulative[-1]
        for row in range(height):
            for column in range(width):
                left = codes[:, row, column - 1] if column else np.full(count, outside)
                upper = codes[:, row - 1, column] if row else np.full(count, outside)
                contexts = left * (outside + 1) + upper
                totals = self.context_totals[contexts]
                from_table = rng.random(count) * (totals + self.smoothing) < totals
                unigram_draw = np.minimum(
                    np.searchsorted(unigram_cumulative, rng.random(count), side="right"),
                    outside - 1,
                )
                table_draw = unigram_draw  # no observed codes (unfitted): totals are 0
                if len(self.keys):
                    # within the context's block of sorted keys, pick by cumulative count
                    start = np.searchsorted(self.keys, contexts * outside)
                    before = np.where(start > 0, self.cumulative[np.maximum(start - 1, 0)], 0)
                    target = before + np.floor(rng.random(count) * totals).astype(np.int64)
                    index = np.searchsorted(self.cumulative, target, side="right")
                    table_draw = self.keys[np.minimum(index, len(self.keys) - 1)] % outside
                codes[:, row, column] = np.where(from_table, table_draw, unigram_draw)
        return codes.astype(np.int32)


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
def _adjust_logits(logits, temperature, top_k: int | None):
    """Logits divided by ``temperature``; outside the ``top_k`` largest set to -1e9."""
    logits = logits / temperature
    if top_k:
        kth = tf.math.top_k(logits, k=top_k).values[..., -1:]
        logits = tf.where(logits < kth, tf.constant(-1e9, logits.dtype), logits)
    return logits


def draw_codes(logits, temperature, top_k: int | None, seed, index):
    """One code per row of ``logits`` ``[B, K]``: a ``Categorical`` draw, stateless seed.

    The seed of position ``index`` (``i * w + j``) is ``fold_in(seed, index)``, so two
    samplers that reach the same logits draw the same codes.
    """
    position_seed = tf.random.experimental.stateless_fold_in(seed, index)
    distribution = _categorical(_adjust_logits(logits, temperature, top_k))
    return tf.cast(distribution.sample(seed=position_seed), tf.int32)


def _check_sampling(temperature, top_k, num_embeddings):
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if top_k is not None and not 1 <= int(top_k) <= num_embeddings:
        raise ValueError(f"top_k must be None or in [1, {num_embeddings}], got {top_k}")
    return float(temperature), (int(top_k) if top_k else None)


class FastSampler:
    """Batched, compiled autoregressive sampling with per-block caches.

    State between rows, per block ``b`` of reach ``r_b = (k // 2) * d_b`` (``d_b`` its
    dilation): the last ``r_b`` rows of the block's vertical input ``[B, r_b, w, C]``
    and the vertical-to-horizontal link for the current row ``[B, w, 2C]``. State
    within a row, per block: the last ``r_b`` horizontal inputs ``[B, r_b, C]`` (the
    kernel reads every ``d_b``-th of them and the new one). Each row runs the vertical
    stack on the row above (once), then a ``tf.while_loop`` over the ``w`` positions
    that runs the horizontal stack and the head on one position.

    :meth:`sample` draws new grids; :meth:`teacher_forced_logits` feeds given codes
    through the same cached path and returns the logits at every step (tests
    compare them with the full network).
    """

    def __init__(self, model: GatedPixelCNN, jit_compile: bool = False):
        self.model = model
        self.jit_compile = bool(jit_compile)
        self._functions: dict[Any, Any] = {}

    # one row -----------------------------------------------------------------------------------
    def _vertical_row(self, caches, row_codes, row_features):
        """Run every block's vertical stack on one finished row; new caches and links.

        ``row_features``: the shared features of that row ``[B, 1, w, F]`` (or ``None``).
        """
        model = self.model
        row_input = model.embedding(row_codes)[:, None]  # [B, 1, w, C]
        new_caches, links = [], []
        for block, cache in zip(model.blocks, caches, strict=True):
            vertical_bias, _ = block.position_biases(row_features)
            window = tf.concat([cache, row_input], axis=1)  # [B, n*d + 1, w, C]
            padded = tf.pad(window, [[0, 0], [0, 0], [block.reach, block.reach], [0, 0]])
            vertical_pre = block.vertical_conv(padded) + vertical_bias  # [B, 1, w, 2C]
            links.append(block.link(vertical_pre)[:, 0])  # for the next row: [B, w, 2C]
            new_caches.append(window[:, 1:])
            row_input = _gate(vertical_pre)
        return new_caches, links

    def _first_links(self, batch: int, width: int):
        """Links of row 0: the link convolution of zeros (the down-shift's padding)."""
        zeros = tf.zeros((batch, 1, width, 2 * self.model.hidden_channels))
        return [block.link(zeros)[:, 0] for block in self.model.blocks]

    def _row_weights(self, features, width):
        """Per block, the horizontal stack as matrices and its position biases for one row.

        ``features``: the shared features of the row ``[B, w, F]`` (or ``None``). Returns
        ``(horizontal kernel [(n+1) C, 2C], its bias, output kernel [C, C], its bias,
        position bias [B, w, 2C] (zeros [1, w, 2C] without features))`` per block.
        """
        channels = self.model.hidden_channels
        weights = []
        for block in self.model.blocks:
            _, position_bias = block.position_biases(features)
            if isinstance(position_bias, float):
                position_bias = tf.zeros((1, width, 2 * channels))
            weights.append(
                (
                    tf.reshape(
                        block.horizontal_conv.kernel, ((block.taps + 1) * channels, 2 * channels)
                    ),
                    block.horizontal_conv.bias,
                    tf.reshape(block.horizontal_output.kernel, (channels, channels)),
                    block.horizontal_output.bias,
                    position_bias,
                )
            )
        return weights

    def _position_logits(self, weights, links, histories, previous, column):
        """Logits ``[B, K]`` at ``(i, column)`` and the blocks' new horizontal histories.

        ``previous``: the embedding of ``c[i, column - 1]`` ``[B, C]`` (zeros at column 0);
        ``histories``: per block the last ``n*d`` horizontal inputs ``[B, n*d, C]``.
        """
        batch, channels = tf.shape(previous)[0], self.model.hidden_channels
        value, new_histories = previous, []
        for block, history, link, block_weights in zip(
            self.model.blocks, histories, links, weights, strict=True
        ):
            horizontal_kernel, horizontal_bias, output_kernel, output_bias, position_bias = (
                block_weights
            )
            # the last n*d + 1 inputs [B, n*d + 1, C]; the kernel's taps are every d-th
            window = tf.concat([history, value[:, None]], axis=1)
            taps = window[:, :: block.dilation]  # [B, n + 1, C]
            flat = tf.reshape(taps, (batch, (block.taps + 1) * channels))
            preactivation = (
                tf.matmul(flat, horizontal_kernel)
                + horizontal_bias
                + link[:, column]
                + position_bias[:, column]
            )
            output = tf.matmul(_gate(preactivation), output_kernel) + output_bias
            new_histories.append(window[:, 1:])
            value = output if block.first else value + output
        return self.model.head(value[:, None, None])[:, 0, 0], new_histories

    def _empty_histories(self, batch):
        channels = self.model.hidden_channels
        return [tf.zeros((batch, block.reach, channels)) for block in self.model.blocks]

    def _start(self, count: int, height: int, width: int, positions):
        """``(features [B, h, w, F] or None, vertical caches, links of row 0)``."""
        model = self.model
        features = None
        if model.has_features:
            heights = tf.constant(positions) if model.conditional else None
            features = model.feature_map(heights, count, height, width)
            features = tf.broadcast_to(features, (count, height, width, features.shape[-1]))
        caches = [
            tf.zeros((count, block.reach, width, model.hidden_channels)) for block in model.blocks
        ]
        links = self._compiled("first_links", None, None)(count, width)
        return features, caches, links

    def _horizontal_row(self, links, features, forced_row, row, temperature, top_k, seed, force):
        """The ``w`` steps of one row; returns ``(codes [B, w], logits [B, w, K])``.

        ``features``: the shared features of the row ``[B, w, F]`` (or ``None``).
        """
        model = self.model
        batch = tf.shape(links[0])[0]
        width = tf.shape(links[0])[1]
        weights = self._row_weights(features, width)
        previous = tf.zeros((batch, model.hidden_channels))  # embedding of c[i, j-1]
        codes = tf.TensorArray(tf.int32, size=width)
        all_logits = tf.TensorArray(tf.float32, size=width)

        def step(column, previous, histories, codes, all_logits):
            logits, new_histories = self._position_logits(
                weights, links, histories, previous, column
            )
            if force:
                code = forced_row[:, column]
            else:
                code = draw_codes(logits, temperature, top_k, seed, row * width + column)
            codes = codes.write(column, code)
            all_logits = all_logits.write(column, logits)
            return column + 1, model.embedding(code), new_histories, codes, all_logits

        _, _, _, codes, all_logits = tf.while_loop(
            lambda column, *_: column < width,
            step,
            (tf.constant(0), previous, self._empty_histories(batch), codes, all_logits),
        )
        return tf.transpose(codes.stack()), tf.transpose(all_logits.stack(), (1, 0, 2))

    def _compiled(self, name: str, top_k, force):
        key = (name, top_k, force)
        if key not in self._functions:
            if name == "vertical":
                function = self._vertical_row
            elif name == "first_links":
                function = self._first_links
            else:

                def function(links, features, forced_row, row, temperature, seed):
                    return self._horizontal_row(
                        links, features, forced_row, row, temperature, top_k, seed, force
                    )

            jit = self.jit_compile and name == "horizontal"
            self._functions[key] = tf.function(function, jit_compile=jit, reduce_retracing=True)
        return self._functions[key]

    def _walk_rows(self, count, height, width, positions, row_walk, progress):
        """Run ``row_walk`` on each row in turn, the vertical caches following the grid.

        ``row_walk(links, row_features, row)`` is one row's compiled horizontal walk; it
        returns a tuple whose first item is the row's final codes ``[B, w]``, which the
        vertical stack then adds to its caches for the rows below. Returns the tuples of
        every row, in order.
        """
        features, caches, links = self._start(count, height, width, positions)
        vertical = self._compiled("vertical", None, None)
        outputs = []
        progress_bar = keras.utils.Progbar(height, unit_name="row") if progress else None
        for row in range(height):
            output = row_walk(links, None if features is None else features[:, row], row)
            outputs.append(output)
            if row + 1 < height:
                row_features = None if features is None else features[:, row : row + 1]
                caches, links = vertical(caches, output[0], row_features)
            if progress_bar is not None:
                progress_bar.update(row + 1)
        return outputs

    def _run(self, count, height, width, positions, temperature, top_k, seed, forced, progress):
        force = forced is not None
        horizontal = self._compiled("horizontal", top_k, force)
        seed_tensor = tf.constant([int(seed), 0], dtype=tf.int64)
        temperature_tensor = tf.constant(temperature, tf.float32)

        def row_walk(links, row_features, row):
            forced_row = (
                tf.constant(forced[:, row]) if force else tf.zeros((count, width), tf.int32)
            )
            return horizontal(
                links, row_features, forced_row, tf.constant(row), temperature_tensor, seed_tensor
            )

        outputs = self._walk_rows(count, height, width, positions, row_walk, progress)
        codes = np.stack([np.asarray(row_codes) for row_codes, _ in outputs], axis=1)
        logits = np.stack([np.asarray(row) for _, row in outputs], axis=1) if force else None
        return codes.astype(np.int32), logits

    # public ------------------------------------------------------------------------------------
    def sample(
        self,
        count: int,
        height: int,
        width: int,
        positions=None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> np.ndarray:
        """New grids ``[count, height, width]`` int32 (one compiled loop per row)."""
        count = _check_positive_int("count", count)
        height = _check_positive_int("height", height)
        width = _check_positive_int("width", width)
        temperature, top_k = _check_sampling(temperature, top_k, self.model.num_embeddings)
        positions = _check_positions(positions, count, self.model.conditional)
        codes, _ = self._run(
            count, height, width, positions, temperature, top_k, seed, None, progress
        )
        return codes

    def teacher_forced_logits(self, codes, positions=None) -> np.ndarray:
        """Logits ``[N, h, w, K]`` of the cached path fed with the given ``codes``."""
        codes = _check_codes(codes, self.model.num_embeddings)
        positions = _check_positions(positions, len(codes), self.model.conditional)
        count, height, width = codes.shape
        _, logits = self._run(count, height, width, positions, 1.0, None, 0, codes, False)
        return logits

    def restore(
        self,
        codes,
        threshold: float,
        positions=None,
        temperature: float = 1.0,
        seed: int = 0,
        truncate: bool = True,
        region=None,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prior-guided restoration ("healing") of ``codes`` with the sampler's caches.

        Walks the grid in raster order like :meth:`sample`, with the same row caches, but
        feeds the *healed* codes forward. At position ``(i, j)``, with
        ``p = softmax(logits(healed codes before (i, j)))`` ``[N, K]`` and the observed
        code ``z = codes[:, i, j]``:

        * keep ``z`` where ``p[z] >= threshold`` (or outside ``region``);
        * else draw a replacement from ``q_k ∝ p_k^(1/temperature)``, restricted to the
          codes with ``p_k >= threshold`` when ``truncate`` (and some exist), with the
          stateless seed ``fold_in(seed, i * w + j)`` of :func:`draw_codes`.

        The cost is one sampling pass over the batch (one vertical-stack pass per row,
        the horizontal stack and head on one position per step), not one network pass per
        flagged code. ``oasis_helpers.anomaly.restore_codes`` is the reference.

        Args:
            codes: int ``[N, h, w]`` observed code grids.
            threshold: probability in ``[0, 1]``; 0 keeps every code.
            positions: the slices' heights ``[N]`` (or one value) for a conditional prior.
            temperature: ``> 0``, divides the replacement's logits.
            seed: seeds the replacement draws.
            truncate: draw replacements only among codes with ``p_k >= threshold``.
            region: optional bool ``[N, h, w]`` or ``[h, w]``: only these positions may change.
            progress: show a progress bar over the rows.

        Returns:
            ``(healed, flagged, probabilities)``: healed codes int32 ``[N, h, w]``, bool
            ``[N, h, w]`` the positions that were resampled, float32 ``[N, h, w]`` the
            probability ``p[z]`` of each observed code given the healed codes before it.
        """
        model = self.model
        codes = _check_codes(codes, model.num_embeddings)
        count, height, width = codes.shape
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold}")
        temperature, _ = _check_sampling(temperature, None, model.num_embeddings)
        positions = _check_positions(positions, count, model.conditional)
        region = np.ones(codes.shape, bool) if region is None else np.asarray(region, bool)
        try:
            region = np.broadcast_to(region, codes.shape)
        except ValueError:
            raise ValueError(
                f"region must have shape [N, h, w] or [h, w] = {codes.shape[1:]}, "
                f"got {region.shape}"
            ) from None
        key = ("restore", bool(truncate))
        if key not in self._functions:

            def restoration_row(links, features, observed_row, region_row, row, limit, heat, seed):
                batch, row_width = tf.shape(links[0])[0], tf.shape(links[0])[1]
                weights = self._row_weights(features, row_width)
                arrays = [tf.TensorArray(dtype, size=row_width) for dtype in (tf.int32, tf.bool)]
                arrays.append(tf.TensorArray(tf.float32, size=row_width))

                def step(column, previous, histories, healed, flagged, probabilities):
                    logits, new_histories = self._position_logits(
                        weights, links, histories, previous, column
                    )  # [B, K]
                    distribution = tf.nn.softmax(logits)
                    observed = observed_row[:, column]
                    observed_probability = tf.gather(distribution, observed, batch_dims=1)
                    resample = (observed_probability < limit) & region_row[:, column]
                    proposal = tf.nn.log_softmax(logits)
                    if truncate:
                        likely = distribution >= limit
                        keep = likely | ~tf.reduce_any(likely, axis=1, keepdims=True)
                        proposal = tf.where(keep, proposal, tf.constant(-1e9, proposal.dtype))
                    drawn = draw_codes(proposal, heat, None, seed, row * row_width + column)
                    code = tf.where(resample, drawn, observed)
                    return (
                        column + 1,
                        model.embedding(code),
                        new_histories,
                        healed.write(column, code),
                        flagged.write(column, resample),
                        probabilities.write(column, observed_probability),
                    )

                _, _, _, *arrays = tf.while_loop(
                    lambda column, *_: column < row_width,
                    step,
                    (
                        tf.constant(0),
                        tf.zeros((batch, model.hidden_channels)),
                        self._empty_histories(batch),
                        *arrays,
                    ),
                )
                return tuple(tf.transpose(array.stack()) for array in arrays)

            self._functions[key] = tf.function(
                restoration_row, jit_compile=self.jit_compile, reduce_retracing=True
            )
        restoration_row = self._functions[key]
        constants = (
            tf.constant(float(threshold), tf.float32),
            tf.constant(temperature, tf.float32),
            tf.constant([int(seed), 0], dtype=tf.int64),
        )

        def row_walk(links, row_features, row):
            observed, allowed = tf.constant(codes[:, row]), tf.constant(region[:, row])
            return restoration_row(
                links, row_features, observed, allowed, tf.constant(row), *constants
            )

        outputs = self._walk_rows(count, height, width, positions, row_walk, progress)
        healed, flagged, probabilities = (
            np.stack([np.asarray(output[index]) for output in outputs], axis=1).astype(dtype)
            for index, dtype in enumerate((np.int32, bool, np.float32))
        )
        return healed, flagged, probabilities


def sample_codes(
    model: GatedPixelCNN,
    count: int,
    height: int,
    width: int,
    positions=None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """New code grids ``[count, height, width]`` from ``model`` with the fast sampler.

    ``positions`` (conditional models): one height in ``[0, 1]`` for all, or ``[count]``.
    The compiled functions are cached on the model, so later calls skip tracing.
    """
    sampler = getattr(model, "_oasis_fast_sampler", None)
    if sampler is None:
        sampler = FastSampler(model)
        model._oasis_fast_sampler = sampler
    return sampler.sample(count, height, width, positions, temperature, top_k, seed, progress)


def sample_codes_naive(
    model: GatedPixelCNN,
    count: int,
    height: int,
    width: int,
    positions=None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    max_positions: int | None = None,
) -> np.ndarray:
    """The keras.io example's loop: one full-grid forward pass per position.

    Draws with the same seeds as :func:`sample_codes`, so both return the same
    grids. ``max_positions`` stops after that many positions (for timing; the rest
    stays 0). Far slower: ``h * w`` passes over the whole grid.
    """
    temperature, top_k = _check_sampling(temperature, top_k, model.num_embeddings)
    positions = _check_positions(positions, count, model.conditional)
    logits_function = _logits_function(model)
    positions_tensor = (
        tf.constant(positions) if positions is not None else tf.zeros((0,), tf.float32)
    )
    seed_tensor = tf.constant([int(seed), 0], dtype=tf.int64)
    temperature_tensor = tf.constant(temperature, tf.float32)
    codes = np.zeros((count, height, width), dtype=np.int32)
    total = height * width if max_positions is None else min(int(max_positions), height * width)
    for index in range(total):
        row, column = divmod(index, width)
        logits = logits_function(tf.constant(codes), positions_tensor)[:, row, column]
        codes[:, row, column] = np.asarray(
            draw_codes(logits, temperature_tensor, top_k, seed_tensor, tf.constant(index))
        )
    return codes
