"""A blind-spot model of code grids: what the surroundings say a code should be.

The PixelCNN prior of notebook 04 reads a grid in raster order, so its probability of a
code is conditioned on the codes *before* it only. Inside a lesion that is a weakness: once
the first lesion codes are seen, the causal context explains the rest of the lesion away,
and the lesion's first codes, seen from a healthy past, are often common codes (a bright
blob in white matter is coded much like a healthy bright patch). Measured on the demo
cohort, the prior's surprise tells lesion codes from healthy brain codes with an AUROC of
only about 0.56.

A blind-spot model (the idea of blind-spot denoising networks, Laine et al. 2019,
"High-quality self-supervised deep image denoising") asks instead: given the codes *all
around* position ``(i, j)`` but **not** those in the square hole
``|i' - i| <= hole, |j' - j| <= hole``, what should be at ``(i, j)``? A small lesion falls
inside the hole and cannot explain itself; the healthy anatomy around it predicts healthy
codes, so the lesion's codes are surprising::

    p(c[i, j] | c[i', j'] : max(|i' - i|, |j' - j|) > hole, (i, j), position)

Architecture (``make_blind_spot_model``), for ``B`` grids of ``h x w`` codes from ``K``::

    e   = Embedding(K, E)(codes)                               [B, h, w, E]
    r_d = HoleConv2D(dilation d)(e), d in (1, 2, 4)            [B, h, w, F_d]
    x   = ReLU(concat(r_1, r_2, r_4, i / h - 1/2, j / w - 1/2, position))
    logits = Conv1x1_K(ReLU(Conv1x1(ReLU(Conv1x1(x)))))        [B, h, w, K]

Every spatial layer is a :class:`HoleConv2D`, a convolution whose kernel taps inside the
hole are held at zero, and everything after it is per position (1 x 1), so no layer can
see into the hole. The ``d = 1`` ring has taps ``hole + 1`` and ``hole + 2`` codes away;
a ring of dilation ``d > 1`` has a ``7 x 7`` kernel whose taps ``d a`` codes away are kept
where ``|a| > hole // d`` (so ``d |a| > hole``), reaching ``3 d`` codes. The coordinates
and the slice height let it learn *where* in the head a code sits (brains are centred in
their frames).

Its surprise ``-log2 p`` in bits is :func:`surprise_bits`; notebook 05 uses it to choose
*where* the prior-guided restoration may resample (:func:`oasis_helpers.anomaly.anomaly_maps`).
Training is a few epochs of cross-entropy on the healthy training grids
(:func:`train_blind_spot_model`): minutes on two CPU cores.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "BLIND_SPOT_DILATIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "DEFAULT_HOLE",
    "GridContext",
    "MODEL_FILE",
    "HoleConv2D",
    "dilated_same_conv",
    "load_blind_spot_model",
    "make_blind_spot_model",
    "surprise_bits",
    "train_blind_spot_model",
    "train_or_load",
]

#: Half-size of the hole in codes: codes within ``hole`` rows and columns of a position are
#: never seen by its prediction. On notebook 05's 32 validation slices of the demo cohort
#: (``benchmarks/anomaly.py``, ``benchmarks/results/anomaly_demo.json``, 16 epochs) the
#: 3 x 3 mean surprise separated lesion codes from the other brain codes with a code-level
#: AUROC of 0.82 for hole 2 (a 5 x 5 hole) and 0.84 for hole 3 (7 x 7, 28 x 28 pixels at
#: ``downsample = 4``), against 0.64 for the PixelCNN prior; restoration scored a pixel
#: AUROC of 0.891-0.899 and 0.901-0.913 with them.
DEFAULT_HOLE = 3
#: Epochs over the training grids. Hole 3 on the demo cohort's 576 grids of 64 x 64 codes:
#: validation 2.08 bits per code after 3 epochs, 1.96 after 8, 1.89 after 16 (20-30 s an
#: epoch on two CPU cores).
DEFAULT_EPOCHS = 16
DEFAULT_BATCH_SIZE = 16
#: The file name notebook 05 saves its model under, in ``run_dir/05_anomaly_detection``.
MODEL_FILE = "blind_spot.keras"
#: Dilations of the three hole convolutions (see the module docstring).
BLIND_SPOT_DILATIONS = (1, 2, 4)


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
    Intel CPUs); this runs everywhere, at the speed of the dilated op where that exists
    (``benchmarks/hole_conv.py``).
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
    """Append ``i / h - 1/2``, ``j / w - 1/2`` and the slice height to every position.

    Inputs ``features [B, h, w, C]`` and ``positions [B, 1]``; output ``[B, h, w, C + 3]``.
    """

    def call(self, features, positions):
        shape = tf.shape(features)
        height, width = shape[1], shape[2]
        rows = tf.cast(tf.range(height), features.dtype) / tf.cast(height, features.dtype) - 0.5
        cols = tf.cast(tf.range(width), features.dtype) / tf.cast(width, features.dtype) - 0.5
        grid = tf.stack(tf.meshgrid(rows, cols, indexing="ij"), axis=-1)[None]
        grid = tf.broadcast_to(grid, tf.concat([shape[:3], [2]], 0))
        level = tf.reshape(tf.cast(positions, features.dtype), [-1, 1, 1, 1])
        level = tf.broadcast_to(level, tf.concat([shape[:3], [1]], 0))
        return tf.concat([features, grid, level], axis=-1)

    def compute_output_shape(self, features_shape, positions_shape=None):
        return (*features_shape[:-1], features_shape[-1] + 3)


def make_blind_spot_model(
    num_embeddings: int,
    grid_size: int,
    hole: int = DEFAULT_HOLE,
    embedding_dim: int = 16,
    filters: int = 64,
    hidden: int = 128,
    learning_rate: float = 2e-3,
) -> keras.Model:
    """The blind-spot model of the module docstring, compiled (Adam, cross-entropy).

    Inputs ``[codes int32 [B, grid_size, grid_size], positions float32 [B, 1]]``; output
    logits float32 ``[B, grid_size, grid_size, num_embeddings]``.
    """
    if num_embeddings < 2 or grid_size < 1:
        raise ValueError(
            f"need num_embeddings >= 2 and grid_size >= 1, got {num_embeddings}, {grid_size}"
        )
    if not 0 <= hole <= 5:
        raise ValueError(f"hole must be 0 to 5 codes, got {hole}")
    codes = keras.Input((grid_size, grid_size), dtype="int32", name="codes")
    positions = keras.Input((1,), name="positions")
    embedded = keras.layers.Embedding(num_embeddings, embedding_dim, name="embedding")(codes)
    rings = [
        HoleConv2D(
            filters if dilation == 1 else filters // 2,
            hole + 2 if dilation == 1 else 3,
            hole // dilation,
            dilation,
            name=f"hole_conv_d{dilation}",
        )(embedded)
        for dilation in BLIND_SPOT_DILATIONS
    ]
    features = keras.layers.Concatenate(name="rings")(rings)
    features = keras.layers.ReLU()(GridContext(name="grid_context")(features, positions))
    hidden_1 = keras.layers.Conv2D(hidden, 1, activation="relu", name="hidden_1")(features)
    hidden_2 = keras.layers.Conv2D(hidden, 1, activation="relu", name="hidden_2")(hidden_1)
    logits = keras.layers.Conv2D(num_embeddings, 1, dtype="float32", name="logits")(hidden_2)
    model = keras.Model([codes, positions], logits, name=f"blind_spot_hole{hole}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _inputs(codes, positions) -> list[np.ndarray]:
    codes = np.asarray(codes)
    if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"codes must be an integer array [N, h, w], got {codes.dtype} {codes.shape}"
        )
    if positions is None:
        positions = np.full(len(codes), 0.5, np.float32)
    positions = np.broadcast_to(np.asarray(positions, np.float32).reshape(-1), (len(codes),))
    return [codes.astype(np.int32), positions[:, None].copy()]


def train_blind_spot_model(
    model: keras.Model,
    train_codes,
    train_positions=None,
    validation_codes=None,
    validation_positions=None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    verbose: int = 2,
) -> dict[str, list[float]]:
    """Fit ``model`` to healthy code grids ``[N, h, w]`` (heights ``[N]`` or None: 0.5).

    The target of every position is its own code, so the loss is the mean of
    ``-ln p(c[i, j] | surroundings)`` in nats; returns the Keras history.
    """
    validation = None
    if validation_codes is not None:
        validation = (
            _inputs(validation_codes, validation_positions),
            np.asarray(validation_codes, np.int32),
        )
    history = model.fit(
        _inputs(train_codes, train_positions),
        np.asarray(train_codes, np.int32),
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation,
        verbose=verbose,
    )
    return {name: [float(value) for value in values] for name, values in history.history.items()}


def surprise_bits(model: keras.Model, codes, positions=None, batch_size: int = 32) -> np.ndarray:
    """``-log2 p(c[i, j] | surroundings)`` of every observed code: float32 ``[N, h, w]``."""
    inputs = _inputs(codes, positions)
    logits = model.predict(inputs, batch_size=batch_size, verbose=0)
    log_p = tf.nn.log_softmax(tf.constant(logits, tf.float32), axis=-1).numpy()
    observed = np.take_along_axis(log_p, inputs[0][..., None].astype(np.intp), axis=-1)[..., 0]
    return (-observed / np.log(2.0)).astype(np.float32)


def load_blind_spot_model(path: str | os.PathLike) -> keras.Model:
    """Load a blind-spot model saved as ``.keras`` (safe mode: no Python is unpickled)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: notebook 05 trains and saves it")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _fingerprint(codes, positions) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(codes, np.int32).tobytes())
    if positions is not None:
        digest.update(np.ascontiguousarray(positions, np.float32).tobytes())
    return digest.hexdigest()[:16]


def train_or_load(
    path: str | os.PathLike,
    num_embeddings: int,
    train_codes,
    train_positions=None,
    validation_codes=None,
    validation_positions=None,
    hole: int = DEFAULT_HOLE,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a blind-spot model on healthy grids and save it to ``path`` (``.keras``), or
    load the one saved there when it was trained with the same settings on the same codes.

    The settings (hole, epochs, seed, codebook size, grid size and a SHA-256 fingerprint of
    the training codes and heights) are stored next to the model as ``<path>.json``;
    re-running notebook 03 or 04 changes the codes and so retrains the model.

    Returns:
        ``(model, record)``: ``record`` holds ``"settings"``, ``"history"`` (the per-epoch
        losses in nats, stored with the model) and ``"loaded"`` (True when nothing was
        trained).
    """
    from oasis_helpers import runs

    path = Path(path)
    record_path = path.with_suffix(".json")
    train_codes = np.asarray(train_codes, np.int32)
    settings = {
        "hole": int(hole),
        "epochs": int(epochs),
        "seed": int(seed),
        "num_embeddings": int(num_embeddings),
        "grid": list(train_codes.shape[1:]),
        "codes": _fingerprint(train_codes, train_positions),
    }
    if path.exists() and record_path.exists():
        stored = json.loads(record_path.read_text())
        if stored.get("settings") == settings:
            return load_blind_spot_model(path), {**stored, "loaded": True}
    keras.utils.set_random_seed(int(seed))
    model = make_blind_spot_model(num_embeddings, train_codes.shape[1], hole=hole)
    history = train_blind_spot_model(
        model,
        train_codes,
        train_positions,
        validation_codes,
        validation_positions,
        epochs=epochs,
        verbose=0,
    )
    record = {"settings": settings, "history": history}
    runs.save_model(model, path)
    runs.write_json(record_path, record)
    return model, {**record, "loaded": False}
