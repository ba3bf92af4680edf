"""Sampling from the prior: the fast cached sampler, the naive one, temperature and top-k.

Fast sampling (Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models"): :class:`FastSampler` keeps per-block caches. Once a row
is complete, each block's vertical convolution runs **once on that row** (its
input window is the cached last ``n`` rows plus the new one), which gives the
vertical contribution of every position of the next row. Within a row, each
step runs the horizontal stack on **one position** (a window of the last ``n + 1``
inputs per block, as matrix products) and the output head, and draws one code
per grid of the batch. The whole row is a compiled ``tf.while_loop``, traced once per
configuration and kept on the sampler, which :func:`fast_sampler` keeps on the model.

Draws (:func:`draw_codes`) divide the logits by a temperature, keep the ``top_k`` largest
(optionally) and use ``tfp.distributions.Categorical`` with a stateless seed derived from
``(seed, i * w + j)``, so that the naive sampler (:func:`sample_codes_naive`, one full
network pass per position, as in the keras.io example) draws the same codes from the
same logits.

The sampler's row walk is public (:meth:`FastSampler.walk_rows`,
:meth:`FastSampler.walk_row`, :meth:`FastSampler.row_function`): the prior-guided
restoration of :mod:`oasis_helpers.anomaly.restoration` walks the grid with it, choosing
each code instead of drawing it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.code_location import check_slice_heights
from oasis_helpers.prior.gated_block import gate
from oasis_helpers.prior.inputs import check_codes, check_positive_int, check_top_codes
from oasis_helpers.prior.likelihood import categorical, compiled_logits
from oasis_helpers.prior.model import GatedPixelCNN

__all__ = [
    "FastSampler",
    "check_sampling",
    "draw_codes",
    "fast_sampler",
    "sample_codes",
    "sample_codes_naive",
]


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
    distribution = categorical(_adjust_logits(logits, temperature, top_k))
    return tf.cast(distribution.sample(seed=position_seed), tf.int32)


def check_sampling(temperature, top_k, num_embeddings):
    """``(temperature, top_k)`` as ``(float > 0, None or int in [1, K])``, else ``ValueError``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if top_k is not None and not 1 <= int(top_k) <= num_embeddings:
        raise ValueError(f"top_k must be None or in [1, {num_embeddings}], got {top_k}")
    return float(temperature), (int(top_k) if top_k else None)


class FastSampler:
    """Batched, compiled autoregressive walks over code grids with per-block caches.

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

    The row walk is public, for other walks in raster order that choose each code from
    the prior's distribution given the codes before it (the prior-guided restoration of
    :mod:`oasis_helpers.anomaly.restoration` is one): :meth:`walk_rows` walks the rows and
    moves the vertical caches down the grid; :meth:`walk_row`, inside a compiled row
    function, walks one row's positions and asks a ``choose`` callable for each code;
    :meth:`row_function` compiles a row function once per configuration and keeps it.
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
            row_input = gate(vertical_pre)
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
            output = tf.matmul(gate(preactivation), output_kernel) + output_bias
            new_histories.append(window[:, 1:])
            value = output if block.first else value + output
        return self.model.head(value[:, None, None])[:, 0, 0], new_histories

    def _empty_histories(self, batch):
        channels = self.model.hidden_channels
        return [tf.zeros((batch, block.reach, channels)) for block in self.model.blocks]

    def _start(self, count: int, height: int, width: int, slice_heights, top_codes=None):
        """``(features [B, h, w, F] or None, vertical caches, links of row 0)``.

        ``top_codes`` int32 ``[B, h/f, w/f]``: the whole layout of a two-level fine prior,
        whose features join every row's (non-causal: known before the fine grid).
        """
        model = self.model
        features = None
        if model.has_features:
            heights = tf.constant(slice_heights) if model.conditional else None
            top = tf.constant(top_codes) if top_codes is not None else None
            features = model.feature_map(heights, count, height, width, top)
            features = tf.broadcast_to(features, (count, height, width, features.shape[-1]))
        caches = [
            tf.zeros((count, block.reach, width, model.hidden_channels)) for block in model.blocks
        ]
        links = self._cached_step("first_links")(count, width)
        return features, caches, links

    def _cached_step(self, name: str):
        """``"vertical"`` (:meth:`_vertical_row`) or ``"first_links"``, compiled once (no XLA)."""
        key = (name, None, None)
        if key not in self._functions:
            function = self._vertical_row if name == "vertical" else self._first_links
            self._functions[key] = tf.function(function, jit_compile=False, reduce_retracing=True)
        return self._functions[key]

    # the row walk ------------------------------------------------------------------------------
    def row_function(self, key, build):
        """The compiled row function of configuration ``key``: built and traced once, then kept.

        ``build()`` returns the Python function of one row (tensors in, tensors out; it
        calls :meth:`walk_row`). On the first request of ``key`` it is wrapped in
        ``tf.function`` (``reduce_retracing``; XLA when the sampler was made with
        ``jit_compile``) and cached on the sampler, so every later row, and every later call
        with the same ``key``, reuses the traced graph. Put in ``key`` what changes the graph
        (``top_k``, a truncation switch, ...) and pass what changes between calls (the row,
        seeds, thresholds, temperatures) as tensors.
        """
        if key not in self._functions:
            self._functions[key] = tf.function(
                build(), jit_compile=self.jit_compile, reduce_retracing=True
            )
        return self._functions[key]

    def walk_row(self, links, features, choose, output_dtypes=()):
        """The ``w`` steps of one row, left to right, inside a row function.

        At column ``j`` the blocks' horizontal stacks and the head run on one position (the
        rows above reach it through ``links``) and give the logits of ``c[i, j]`` given
        every code before it; ``choose(logits, column)`` returns ``(code, *outputs)``: the
        code placed at ``(i, j)``, which the later columns see, and values to collect.

        Args:
            links: the row's vertical-to-horizontal links, ``[B, w, 2C]`` per block (as
                :meth:`walk_rows` passes them to its ``row_walk``).
            features: the row's shared features ``[B, w, F]``, or ``None``.
            choose: ``(logits [B, K] float32, column int32) -> (code [B] int32, *outputs)``
                with outputs ``[B, ...]``; traced once, as the body of a ``tf.while_loop``.
            output_dtypes: the dtypes of ``outputs``.

        Returns:
            ``(codes [B, w] int32, *outputs [B, w, ...])``.
        """
        model = self.model
        batch = tf.shape(links[0])[0]
        width = tf.shape(links[0])[1]
        weights = self._row_weights(features, width)
        previous = tf.zeros((batch, model.hidden_channels))  # embedding of c[i, j-1]
        arrays = [tf.TensorArray(dtype, size=width) for dtype in (tf.int32, *output_dtypes)]

        def step(column, previous, histories, *arrays):
            logits, new_histories = self._position_logits(
                weights, links, histories, previous, column
            )
            code, *outputs = choose(logits, column)
            arrays = [
                array.write(column, value)
                for array, value in zip(arrays, (code, *outputs), strict=True)
            ]
            return (column + 1, model.embedding(code), new_histories, *arrays)

        _, _, _, *arrays = tf.while_loop(
            lambda column, *_: column < width,
            step,
            (tf.constant(0), previous, self._empty_histories(batch), *arrays),
        )
        stacked = [array.stack() for array in arrays]  # [w, B, ...]
        return tuple(tf.transpose(value, (1, 0, *range(2, value.shape.rank))) for value in stacked)

    def walk_rows(
        self, count, height, width, slice_heights, row_walk, progress: bool = False, top_codes=None
    ):
        """Walk ``count`` grids row by row: ``row_walk`` on each row, the vertical caches following.

        Before row ``i`` the vertical stack has run once on each finished row above, so
        ``row_walk(links, row_features, row)`` gets the row's links ``[B, w, 2C]`` per block
        and its shared features ``[B, w, F]`` (or ``None``); it runs the row (usually a
        function of :meth:`row_function`) and returns a tuple whose first item is the row's
        final codes ``[B, w]``, which the vertical stack then adds to its caches for the
        rows below.

        Args:
            count, height, width: ``B`` grids of ``h x w`` codes.
            slice_heights: the slices' heights float32 ``[B]``
                (:func:`oasis_helpers.code_location.check_slice_heights`), ``None`` when the
                prior is unconditional.
            row_walk: see above.
            progress: show a progress bar over the rows.
            top_codes: the layout int32 ``[B, h/f, w/f]`` of a two-level fine prior
                (:func:`oasis_helpers.prior.inputs.check_top_codes`), else ``None``.

        Returns:
            The tuples of every row, in order.
        """
        features, caches, links = self._start(count, height, width, slice_heights, top_codes)
        vertical = self._cached_step("vertical")
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

    # sampling ----------------------------------------------------------------------------------
    def _run(
        self,
        count,
        height,
        width,
        slice_heights,
        temperature,
        top_k,
        seed,
        forced,
        progress,
        top_codes=None,
    ):
        force = forced is not None

        def build():
            def horizontal(links, features, forced_row, row, temperature, seed):
                row_width = tf.shape(links[0])[1]

                def choose(logits, column):
                    if force:
                        return forced_row[:, column], logits
                    index = row * row_width + column
                    return draw_codes(logits, temperature, top_k, seed, index), logits

                return self.walk_row(links, features, choose, (tf.float32,))

            return horizontal

        horizontal = self.row_function(("horizontal", top_k, force), build)
        seed_tensor = tf.constant([int(seed), 0], dtype=tf.int64)
        temperature_tensor = tf.constant(temperature, tf.float32)

        def row_walk(links, row_features, row):
            forced_row = (
                tf.constant(forced[:, row]) if force else tf.zeros((count, width), tf.int32)
            )
            return horizontal(
                links, row_features, forced_row, tf.constant(row), temperature_tensor, seed_tensor
            )

        outputs = self.walk_rows(count, height, width, slice_heights, row_walk, progress, top_codes)
        codes = np.stack([np.asarray(row_codes) for row_codes, _ in outputs], axis=1)
        logits = np.stack([np.asarray(row) for _, row in outputs], axis=1) if force else None
        return codes.astype(np.int32), logits

    # public ------------------------------------------------------------------------------------
    def sample(
        self,
        count: int,
        height: int,
        width: int,
        slice_heights: npt.ArrayLike | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 0,
        progress: bool = False,
        top_codes: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.int32]:
        """New grids ``[count, height, width]`` int32 (one compiled loop per row).

        ``top_codes``: the layout ``[count, height/f, width/f]`` of a two-level fine prior.
        """
        count = check_positive_int("count", count)
        height = check_positive_int("height", height)
        width = check_positive_int("width", width)
        temperature, top_k = check_sampling(temperature, top_k, self.model.num_embeddings)
        slice_heights = check_slice_heights(slice_heights, count, self.model.conditional)
        top_codes = check_top_codes(self.model, top_codes, (count, height, width))
        codes, _ = self._run(
            count, height, width, slice_heights, temperature, top_k, seed, None, progress, top_codes
        )
        return codes

    def teacher_forced_logits(
        self,
        codes: npt.ArrayLike,
        slice_heights: npt.ArrayLike | None = None,
        top_codes: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float32]:
        """Logits ``[N, h, w, K]`` of the cached path fed with the given ``codes`` (and layout)."""
        codes = check_codes(codes, self.model.num_embeddings)
        slice_heights = check_slice_heights(slice_heights, len(codes), self.model.conditional)
        top_codes = check_top_codes(self.model, top_codes, codes.shape)
        count, height, width = codes.shape
        _, logits = self._run(
            count, height, width, slice_heights, 1.0, None, 0, codes, False, top_codes
        )
        return logits


def fast_sampler(model: GatedPixelCNN) -> FastSampler:
    """The model's own :class:`FastSampler`: made on first use and kept on the model.

    Sampling (:func:`sample_codes`) and restoration
    (:func:`oasis_helpers.anomaly.restore_with_prior`) share it, and with it the compiled
    row functions, each traced once per configuration rather than once per call.
    """
    return model.cached("fast_sampler", lambda: FastSampler(model))


def sample_codes(
    model: GatedPixelCNN,
    count: int,
    height: int,
    width: int,
    slice_heights: npt.ArrayLike | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    progress: bool = False,
    top_codes: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int32]:
    """New code grids ``[count, height, width]`` from ``model`` with the fast sampler.

    ``slice_heights`` (conditional models): one height in ``[0, 1]`` for all, or ``[count]``.
    ``top_codes`` (two-level fine priors, :mod:`oasis_helpers.prior.layout`): the layout
    ``[count, height/f, width/f]``. The compiled functions are cached on the model, so later
    calls skip tracing.
    """
    return fast_sampler(model).sample(
        count, height, width, slice_heights, temperature, top_k, seed, progress, top_codes
    )


def sample_codes_naive(
    model: GatedPixelCNN,
    count: int,
    height: int,
    width: int,
    slice_heights: npt.ArrayLike | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    max_positions: int | None = None,
    top_codes: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int32]:
    """The keras.io example's loop: one full-grid forward pass per position.

    Draws with the same seeds as :func:`sample_codes`, so both return the same
    grids. ``max_positions`` stops after that many positions (for timing; the rest
    stays 0). Far slower: ``h * w`` passes over the whole grid.
    """
    temperature, top_k = check_sampling(temperature, top_k, model.num_embeddings)
    slice_heights = check_slice_heights(slice_heights, count, model.conditional)
    top_codes = check_top_codes(model, top_codes, (count, height, width))
    top_tensor = None if top_codes is None else tf.constant(top_codes)
    logits_function = compiled_logits(model)
    slice_heights_tensor = (
        tf.constant(slice_heights) if slice_heights is not None else tf.zeros((0,), tf.float32)
    )
    seed_tensor = tf.constant([int(seed), 0], dtype=tf.int64)
    temperature_tensor = tf.constant(temperature, tf.float32)
    codes = np.zeros((count, height, width), dtype=np.int32)
    total = height * width if max_positions is None else min(int(max_positions), height * width)
    for index in range(total):
        row, column = divmod(index, width)
        logits = logits_function(tf.constant(codes), slice_heights_tensor, top_tensor)[
            :, row, column
        ]
        codes[:, row, column] = np.asarray(
            draw_codes(logits, temperature_tensor, top_k, seed_tensor, tf.constant(index))
        )
    return codes
