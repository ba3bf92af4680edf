"""The gated PixelCNN (van den Oord et al. 2016): the model, its defaults, its maths.

Architecture (:class:`GatedPixelCNN`), for ``B`` grids of ``h x w`` codes from a
codebook of ``K``::

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
* Position (``coordinates``, ``conditional``): the inputs ``u`` of a position, its grid
  coordinates ``(i / (h - 1), j / (w - 1))`` (:func:`oasis_helpers.code_location.grid_coordinates`,
  as the blind-spot model's) and the slice's height, expanded to Fourier
  features ``[u, sin(pi f u), cos(pi f u)]`` through ``Dense(64, relu)`` (or alone, without
  ``feature_frequencies``), then a shared ``Dense(32, tanh)`` (:meth:`GatedPixelCNN.feature_map`);
  per block two ``Dense(2C)`` give the gate biases ``bias_v`` and ``bias_h``.
* Layout (``top_codes = K_top > 0``, a two-level prior, :mod:`oasis_helpers.prior.layout`):
  the model also takes a coarse grid of top codes ``t`` ``[B, h / f, w / f]`` (``f =
  top_factor``), known whole before the fine grid is sampled. Its features
  ``Conv1x1_32(ReLU(Conv3x3_64(Embedding(K_top, 32)(t))))`` (non-causal: every top cell
  sees its 3x3 neighbours) are upsampled by ``f`` (nearest) and added to the shared
  features, so every block's gate biases see the layout; the fine codes stay causal.
  ``top_codes = 0`` (the default) builds exactly the model without it.

Masks are implemented by shifting and cropping, not by masked kernels; the tests
check causality by perturbing codes (never by reading constants).

:data:`DEFAULT_PRIOR` is the model notebook 04 trains and :data:`DEFAULT_PRIOR_TRAINING`
how; :func:`make_prior` builds and compiles one, :func:`load_prior` reads a saved
``prior.keras`` in safe mode.

The blocks are :class:`oasis_helpers.prior.gated_block.GatedBlock`.
"""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from oasis_helpers import runs
from oasis_helpers.code_location import grid_coordinates
from oasis_helpers.prior.gated_block import GatedBlock
from oasis_helpers.prior.inputs import check_positive_int

__all__ = [
    "DEFAULT_PRIOR",
    "DEFAULT_PRIOR_TRAINING",
    "POSITION_FEATURES",
    "POSITION_HIDDEN",
    "GatedPixelCNN",
    "compile_prior",
    "load_prior",
    "make_prior",
]

#: The default prior: what notebook 04 trains (the codebook size comes from notebook 03).
#: Chosen with ``benchmarks/prior_budget.py`` for a CPU without oneDNN: 4 blocks of 32
#: channels train faster than 8 and, trained as :data:`DEFAULT_PRIOR_TRAINING` says, beat
#: every baseline on bits per code and Frechet distance within their steps
#: (``benchmarks/results/prior_budget_demo.json``: ``summary.defaults.beats_every_baseline``,
#: from ``summary.defaults.nll_bits_per_code_test`` and ``summary.defaults.frechet_prior``
#: against the baselines' in ``runs.defaults``).
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
    # With the single Dense layer, or without coordinates, the samples were shapeless: the
    # README's prior section gives the Frechet distances of that comparison (scripts that
    # are no benchmark, so no results file keeps them)
    "feature_frequencies": (1, 2, 4, 8),
}

#: How notebook 04 trains the default prior: Adam with a cosine schedule on batches of code
#: grids for ``epochs * steps_per_epoch`` steps. The training stops by its epochs, so its
#: result does not depend on the machine's speed; ``max_train_minutes`` is only a safety net
#: that a default run on a slow CPU does not reach (``benchmarks/prior_budget.py``,
#: ``benchmarks/results/prior_budget_demo.json``: ``summary.defaults.train_seconds``). What
#: the samples' layout needs is optimizer steps, not grids: fewer steps of larger batches,
#: at a lower or a higher rate, left them shapeless (``benchmarks/prior_budget.py`` with
#: other ``--config`` values; only the defaults' runs are kept in the results file).
DEFAULT_PRIOR_TRAINING: dict[str, Any] = {
    "epochs": 16,
    "steps_per_epoch": 20,
    "batch_size": 8,
    "learning_rate": 4e-3,
    "max_train_minutes": 20.0,
}

#: Width of the shared features (of the grid coordinates and the slice's height) that feed
#: each block's gate biases.
POSITION_FEATURES = 32

#: Hidden width of the position network when it has Fourier features.
POSITION_HIDDEN = 64


@keras.saving.register_keras_serializable(package="oasis_helpers")
class GatedPixelCNN(keras.Model):
    """Gated PixelCNN over code grids (see the module docstring for the maths).

    ``model(codes)`` (unconditional) or ``model((codes, slice_heights))``
    (conditional) returns logits ``[B, h, w, K]`` for codes ``[B, h, w]`` int32
    and slice heights ``[B]`` (or ``[B, 1]``) float32 in ``[0, 1]``. Fully
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
        conditional: condition on the slice's normalised axial height.
        coordinates: give every position its normalised grid coordinates
            ``(i / (h - 1), j / (w - 1))`` through the gate biases, so that the prior
            knows where in the slice it is (a brain sits in the middle of its grid;
            without them, a receptive field of a few codes cannot tell).
        dilations: dilation of the blocks' convolutions, repeated over the blocks
            (block ``b`` gets ``dilations[b % len(dilations)]``); e.g. ``(1, 2, 4, 8)``
            with 8 blocks of kernel 3 reaches 31 rows up instead of 9. Each block's
            reach is ``(k // 2) * d``; a dilation larger than one plus the reach of the
            blocks before it (e.g. ``(1, 4)``) leaves holes in the receptive field.
        top_codes: ``K_top``, the number of top (layout) codes the model is conditioned
            on, or 0 (no layout input: the one-level prior). With ``K_top > 0`` the inputs
            are ``(codes, slice_heights, top_codes)`` (or a dict with ``"top_codes"``),
            top codes int32 ``[B, h / f, w / f]`` in ``[0, K_top)``.
        top_factor: ``f``, fine codes per top code along each side (the top grid is
            upsampled by ``f``, nearest).
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
        top_codes: int = 0,
        top_factor: int = 4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings, 2)
        self.hidden_channels = check_positive_int("hidden_channels", hidden_channels)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.kernel_size = check_positive_int("kernel_size", kernel_size, 3)
        self.head_channels = check_positive_int("head_channels", head_channels)
        self.conditional = bool(conditional)
        self.coordinates = bool(coordinates)
        if isinstance(dilations, (int, np.integer)):
            dilations = (dilations,)
        if len(dilations) == 0:
            raise ValueError("dilations must name at least one dilation, got an empty sequence")
        self.dilations = tuple(check_positive_int("dilations", value) for value in dilations)
        if isinstance(feature_frequencies, (int, float, np.number)):
            feature_frequencies = (feature_frequencies,)
        self.feature_frequencies = tuple(float(value) for value in feature_frequencies)
        if any(not value > 0 for value in self.feature_frequencies):
            raise ValueError(
                f"feature_frequencies must be positive, got {list(self.feature_frequencies)}"
            )
        self.top_codes = int(top_codes)
        if self.top_codes:
            check_positive_int("top_codes", self.top_codes, 2)
        self.top_factor = check_positive_int("top_factor", top_factor)
        self.position_hidden = (
            layers.Dense(POSITION_HIDDEN, activation="relu", name="position_hidden")
            if self.has_position_inputs and self.feature_frequencies
            else None
        )
        self.embedding = layers.Embedding(self.num_embeddings, self.hidden_channels, name="embed")
        self.position_features = (
            layers.Dense(POSITION_FEATURES, activation="tanh", name="position_features")
            if self.has_position_inputs
            else None
        )
        if self.top_codes:  # the layout's features (non-causal over the known top grid)
            self.top_embedding = layers.Embedding(
                self.top_codes, POSITION_FEATURES, name="top_embed"
            )
            self.top_context = layers.Conv2D(
                2 * POSITION_FEATURES, 3, padding="same", activation="relu", name="top_context"
            )
            self.top_features = layers.Conv2D(POSITION_FEATURES, 1, name="top_features")
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
            side = 2 * self.top_factor if self.top_codes else 2
            codes = ops.zeros((1, side, side), dtype="int32")
            slice_heights = ops.zeros((1, 1), dtype="float32") if self.conditional else None
            top = ops.zeros((1, 2, 2), dtype="int32") if self.top_codes else None
            self.logits(codes, slice_heights, top)
        self.built = True

    # inputs -------------------------------------------------------------------------------------
    def split_inputs(self, inputs):
        """``(codes [B, h, w] int32, slice_heights [B, 1] float32 or None)`` from ``inputs``.

        The layout input of a two-level fine prior is :meth:`split_layout_inputs`'.
        """
        return self.split_layout_inputs(inputs)[:2]

    def split_layout_inputs(self, inputs):
        """``(codes, slice_heights, top_codes [B, h/f, w/f] int32 or None)`` from ``inputs``.

        ``inputs``: ``codes``; ``(codes, slice_heights)``; ``(codes, slice_heights,
        top_codes)`` (``slice_heights`` may be ``None`` for an unconditional model); or a
        dict with ``"codes"`` and optionally ``"slice_heights"``, ``"top_codes"``.
        """
        top = None
        if isinstance(inputs, dict):
            codes, slice_heights = inputs["codes"], inputs.get("slice_heights")
            top = inputs.get("top_codes")
        elif isinstance(inputs, (tuple, list)):
            if len(inputs) not in (2, 3):
                raise ValueError(
                    "expected codes, (codes, slice_heights) or (codes, slice_heights, "
                    f"top_codes) as inputs, got {len(inputs)} items"
                )
            codes, slice_heights, *rest = inputs
            top = rest[0] if rest else None
        else:
            codes, slice_heights = inputs, None
        if self.top_codes and top is None:
            raise ValueError(
                "this prior is conditioned on a layout: call it with (codes, slice_heights, "
                "top_codes), top_codes int32 [B, h / f, w / f]"
            )
        if not self.top_codes and top is not None:
            raise ValueError("this prior takes no top_codes (it was built with top_codes=0)")
        if self.conditional and slice_heights is None:
            raise ValueError(
                "this prior is conditional: call it with (codes, slice_heights), slice_heights "
                "float32 [B] in [0, 1]"
            )
        codes = ops.cast(codes, "int32")
        if len(codes.shape) != 3:
            raise ValueError(f"expected codes of shape [B, h, w], got {tuple(codes.shape)}")
        if self.conditional:
            slice_heights = ops.reshape(ops.cast(slice_heights, "float32"), (-1, 1))
        else:
            slice_heights = None
        if top is not None:
            top = ops.cast(top, "int32")
            if len(top.shape) != 3:
                raise ValueError(f"expected top_codes of shape [B, h/f, w/f], got {top.shape}")
        return codes, slice_heights, top

    def cached(self, key: str, make):
        """``make()`` on the first request of ``key``, the same object on every later one.

        What other modules build once per model and keep with it: the compiled full pass
        (:func:`oasis_helpers.prior.likelihood.compiled_logits`) and the fast sampler
        (:func:`oasis_helpers.prior.sampling.fast_sampler`), so that neither is traced again
        on every call.
        """
        name = f"_cached_{key}"
        if not hasattr(self, name):
            setattr(self, name, make())
        return getattr(self, name)

    @property
    def has_position_inputs(self) -> bool:
        """Whether the position network has inputs: coordinates and/or the slice's height."""
        return self.conditional or self.coordinates

    @property
    def has_features(self) -> bool:
        """Whether the gates get biases: from coordinates, the slice's height or a layout."""
        return self.has_position_inputs or bool(self.top_codes)

    def layout_features(self, top_codes):
        """Features ``[B, h, w, 32]`` of top codes ``[B, h/f, w/f]``: embedded, one 3x3 and
        one 1x1 convolution over the top grid (non-causal), then repeated ``f x f``."""
        top = self.top_features(self.top_context(self.top_embedding(top_codes)))
        top = ops.repeat(top, self.top_factor, axis=1)
        return ops.repeat(top, self.top_factor, axis=2)

    def feature_map(self, slice_heights, batch, height, width, top_codes=None):
        """Shared features ``[B, h, w, 32]`` (``[B, 1, 1, 32]`` with the height alone).

        With a layout (``top_codes`` ``[B, h/f, w/f]``, models with ``top_codes > 0``) the
        features of :meth:`layout_features` are added to those of the position.

        The inputs ``u`` are, per position, the grid coordinates
        ``(i / (h - 1), j / (w - 1))`` (when ``coordinates``) and the slice's height
        (when ``conditional``). With ``feature_frequencies`` ``f_1..f_m`` they are
        expanded to ``[u, sin(pi f u), cos(pi f u)]`` (Fourier features, so that a
        small network can draw a brain's outline as a function of where it is) and
        pass ``Dense(64, relu)``; then the shared ``Dense(32, tanh)``. ``None`` when
        the model has none of these inputs.
        """
        if not self.has_features:
            return None
        layout = self.layout_features(top_codes) if self.top_codes else None
        if not self.has_position_inputs:
            return layout
        parts = []
        if self.coordinates:
            grid = grid_coordinates(height, width)
            parts.append(ops.broadcast_to(grid[None], (batch, height, width, 2)))
        if self.conditional:
            heights = ops.reshape(ops.cast(slice_heights, "float32"), (-1, 1, 1, 1))
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
        features = self.position_features(inputs)
        return features if layout is None else features + layout

    def head(self, horizontal):
        """Logits ``[..., K]`` from the last horizontal output ``[..., C]`` (1x1 layers)."""
        hidden = ops.relu(self.head_hidden(ops.relu(horizontal)))
        return self.head_logits(hidden)

    def logits(self, codes, slice_heights, top_codes=None):
        """The full pass: logits ``[B, h, w, K]`` of codes ``[B, h, w]`` int32.

        ``slice_heights`` float32 ``[B, 1]`` (``None`` for an unconditional model) and
        ``top_codes`` int32 ``[B, h/f, w/f]`` (``None`` without a layout): the inputs as
        :meth:`split_layout_inputs` returns them, so that compiled callers
        (:func:`oasis_helpers.prior.likelihood.compiled_logits`) skip parsing them.
        """
        shape = ops.shape(codes)
        features = self.feature_map(slice_heights, shape[0], shape[1], shape[2], top_codes)
        embedded = self.embedding(codes)
        vertical, horizontal = embedded, embedded
        for block in self.blocks:
            vertical, horizontal = block(vertical, horizontal, features)
        return self.head(horizontal)

    def call(self, inputs, training=False):
        return self.logits(*self.split_layout_inputs(inputs))

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
        if self.top_codes:  # only then: a one-level prior's config (and run folder) is unchanged
            config.update({"top_codes": self.top_codes, "top_factor": self.top_factor})
        return config


def compile_prior(
    model: GatedPixelCNN,
    learning_rate: float = DEFAULT_PRIOR_TRAINING["learning_rate"],
    jit_compile="auto",
):
    """Compile ``model`` with Adam and sparse cross-entropy from logits (nats per code).

    ``learning_rate`` defaults to notebook 04's (:data:`DEFAULT_PRIOR_TRAINING`). Bits per
    code are ``loss / ln 2``. Returns the model.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def make_prior(
    learning_rate: float = DEFAULT_PRIOR_TRAINING["learning_rate"], **config
) -> GatedPixelCNN:
    """A compiled :class:`GatedPixelCNN`: ``DEFAULT_PRIOR`` updated with ``config``, and Adam
    at ``learning_rate`` (:func:`compile_prior`)."""
    allowed = {*DEFAULT_PRIOR, "top_codes", "top_factor"}  # the last two: a layout input
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(f"unknown prior settings {sorted(unknown)}; allowed: {sorted(allowed)}")
    return compile_prior(GatedPixelCNN(**{**DEFAULT_PRIOR, **config}), learning_rate)


#: The file notebook 04 saves its prior to, under ``run_dir/04_pixelcnn_prior/``.
PRIOR_FILE = "prior.keras"


def load_prior(path: str | os.PathLike, compile: bool = True) -> GatedPixelCNN:
    """Load a saved ``prior.keras`` with ``safe_mode=True``; ``FileNotFoundError`` if missing."""
    return runs.load_saved_model(path, GatedPixelCNN, "04_pixelcnn_prior", compile=compile)
