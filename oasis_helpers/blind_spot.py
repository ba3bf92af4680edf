"""A blind-spot model of code grids: what the surroundings say a code should be.

The PixelCNN prior of notebook 04 reads a grid in raster order, so its probability of a
code is conditioned on the codes *before* it only. Inside a lesion that is a weakness: once
the first lesion codes are seen, the causal context explains the rest of the lesion away,
and the lesion's first codes, seen from a healthy past, are often common codes (a bright
blob in white matter is coded much like a healthy bright patch). How well the prior's
surprise tells lesion codes from the other brain codes, and how well this model's does, is
measured by ``benchmarks/anomaly.py`` (``benchmarks/results/anomaly_demo.json``:
``diagnostics.code_auroc.nll`` and ``.nll_box_mean`` for the prior,
``.blind_spot_hole_3`` for this model; the README quotes them).

A blind-spot model (the idea of blind-spot denoising networks, Laine et al. 2019,
"High-quality self-supervised deep image denoising") asks instead: given the codes *all
around* position ``(i, j)`` but **not** those in the square hole
``|i' - i| <= hole, |j' - j| <= hole``, what should be at ``(i, j)``? A small lesion falls
inside the hole and cannot explain itself; the healthy anatomy around it predicts healthy
codes, so the lesion's codes are surprising::

    p(c[i, j] | c[i', j'] : max(|i' - i|, |j' - j|) > hole, (i, j), slice height)

Architecture (``make_blind_spot_model``), for ``B`` grids of ``h x w`` codes from ``K``::

    e   = Embedding(K, E)(codes)                               [B, h, w, E]
    r_d = HoleConv2D(dilation d)(e), d in dilations (1, 2, 4)  [B, h, w, F_d]
    x   = ReLU(concat(r_1, r_2, r_4, i / (h - 1), j / (w - 1), slice height))
    logits = Conv1x1_K(ReLU(Conv1x1_H(ReLU(Conv1x1_H(x)))))    [B, h, w, K]

with ``E = embedding_dim``, ``F_1 = filters``, ``F_d = filters // 2`` for ``d > 1`` and
``H = hidden``.

Every spatial layer is a :class:`HoleConv2D`, a convolution whose kernel taps inside the
hole are held at zero, and everything after it is per position (1 x 1), so no layer can
see into the hole. The ``d = 1`` ring has taps ``hole + 1`` and ``hole + 2`` codes away;
a ring of dilation ``d > 1`` has a ``7 x 7`` kernel whose taps ``d a`` codes away are kept
where ``|a| > hole // d`` (so ``d |a| > hole``), reaching ``3 d`` codes. The coordinates
and the slice height let it learn *where* in the head a code sits (brains are centred in
their frames).

Every function that runs it takes the slices' heights, float32 ``[N]`` in ``[0, 1]``
(``code_grids.load_codes(run_dir)[split].slice_heights``; 0.5, the middle of the head, for
slices of unknown height), and raises an error that says so when they are missing
(:func:`oasis_helpers.code_location.check_slice_heights`, as the conditional prior does).
Its surprise ``-log2 p`` in bits is :func:`surprise_bits`; notebook 05 uses it to choose
*where* the prior-guided restoration may resample (:func:`oasis_helpers.anomaly.anomaly_maps`).
Training is a few epochs of cross-entropy on the healthy training grids
(:func:`train_blind_spot_model`): minutes on two CPU cores.

Configuration and cache. :data:`DEFAULT_BLIND_SPOT` holds every setting of the model and
its training (hole, embedding_dim, filters, hidden, learning_rate, batch_size, epochs,
dilations); :func:`make_blind_spot_model`, :func:`train_or_load`, notebook 05 and
``benchmarks/anomaly.py`` read their defaults from it, and :func:`configuration` fills in
and checks a partial one. :func:`train_or_load` keeps each configuration in a folder of
its own, ``training.config_run_dir(base_dir, ...)`` (as notebooks 03 and 04 keep their
runs), keyed by the whole configuration, the codebook size, the grid, the seed and a
fingerprint of the training codes and heights; the configuration is stored with the
model, so changing any setting trains a new model and changing it back loads the old
one, and a folder holding another configuration raises
:class:`oasis_helpers.training.ConfigMismatchError` instead of loading::

    base_dir/<8 hex digits>/
        config.json        the configuration (training.config_run_dir)
        blind_spot.keras   the trained model (MODEL_FILE)
        blind_spot.json    the configuration again and the per-epoch losses (RECORD_FILE)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.code_location import check_slice_heights, grid_coordinates

__all__ = [
    "BLIND_SPOT_DILATIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLIND_SPOT",
    "DEFAULT_EPOCHS",
    "DEFAULT_HOLE",
    "GridContext",
    "MODEL_DIR",
    "MODEL_FILE",
    "MODEL_SETTINGS",
    "RECORD_FILE",
    "HoleConv2D",
    "configuration",
    "dilated_same_conv",
    "load_blind_spot_model",
    "load_trained",
    "make_blind_spot_model",
    "predict_logits",
    "run_configuration",
    "surprise_bits",
    "train_blind_spot_model",
    "train_or_load",
]

#: Half-size of the hole in codes: codes within ``hole`` rows and columns of a position are
#: never seen by its prediction; 3 is a 7 x 7 hole, 28 x 28 pixels at ``downsample = 4``.
#: Chosen with ``benchmarks/anomaly.py`` on notebook 05's validation slices: its 3 x 3
#: mean surprise separates lesion codes from the other brain codes better than a 5 x 5
#: hole's and the prior's (``benchmarks/results/anomaly_demo.json``:
#: ``diagnostics.code_auroc.blind_spot_hole_3`` against ``.blind_spot_hole_2`` and
#: ``.nll_box_mean``), and restoration near its flags scores the higher pixel AUROC (the
#: ``variants`` with ``flag`` ``"blind-spot hole 3"`` against ``"blind-spot hole 2"``:
#: ``maps.input.<restorations>.auroc_pixel``).
DEFAULT_HOLE = 3
#: Epochs over the training grids. An epoch of the demo cohort's training grids is the
#: longest single step of notebook 05 on a CPU without oneDNN (``benchmarks/cpu_kernels.py``,
#: ``benchmarks/results/cpu_kernels.json``: ``results.eigen.blind_spot_grids_per_second``);
#: what these epochs reach is in notebook 05's ``metrics.json``
#: (``blind_spot.validation_bits_per_code``, ``blind_spot.code_auroc_validation``), and
#: ``benchmarks/anomaly.py --epochs`` trains other counts.
DEFAULT_EPOCHS = 6
DEFAULT_BATCH_SIZE = 16
#: Dilations of the three hole convolutions (see the module docstring).
BLIND_SPOT_DILATIONS = (1, 2, 4)
#: Every setting of the blind-spot model and its training: the single source of truth of
#: the defaults that :func:`make_blind_spot_model`, :func:`train_blind_spot_model`,
#: :func:`train_or_load`, notebook 05 and ``benchmarks/anomaly.py`` use. Each setting keys
#: the folder :func:`train_or_load` trains into.
DEFAULT_BLIND_SPOT: dict[str, Any] = {
    "hole": DEFAULT_HOLE,
    "embedding_dim": 16,
    "filters": 64,
    "hidden": 128,
    "learning_rate": 2e-3,
    "batch_size": DEFAULT_BATCH_SIZE,
    "epochs": DEFAULT_EPOCHS,
    "dilations": BLIND_SPOT_DILATIONS,
}
#: The settings of :data:`DEFAULT_BLIND_SPOT` that :func:`make_blind_spot_model` takes
#: (the others, ``batch_size`` and ``epochs``, are :func:`train_blind_spot_model`'s).
MODEL_SETTINGS = ("hole", "embedding_dim", "filters", "hidden", "learning_rate", "dilations")
#: Where notebook 05 keeps its blind-spot models, one folder per configuration:
#: ``run_dir/05_anomaly_detection/blind_spot/<8 hex digits>/``.
MODEL_DIR = "blind_spot"
#: The model file inside a configuration's folder.
MODEL_FILE = "blind_spot.keras"
#: The record inside a configuration's folder: the configuration and the training history.
RECORD_FILE = "blind_spot.json"


def _whole_number(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"blind-spot setting {name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"blind-spot setting {name} must be {allowed}, got {value!r}")
    return int(value)


def configuration(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A full blind-spot configuration: :data:`DEFAULT_BLIND_SPOT` with ``settings`` over it.

    Checked and normalised: ``hole`` an integer 0 to 5 codes; ``embedding_dim``,
    ``filters``, ``hidden``, ``batch_size`` and ``epochs`` integers >= 1;
    ``learning_rate`` a finite number > 0; ``dilations`` distinct integers >= 1 (a tuple).

    Raises:
        ValueError: an unknown setting (a typo) or a value outside its range.
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULT_BLIND_SPOT))
    if unknown:
        raise ValueError(
            f"unknown blind-spot setting(s) {unknown}: the settings are "
            f"{sorted(DEFAULT_BLIND_SPOT)}"
        )
    config = {**DEFAULT_BLIND_SPOT, **settings}
    config["hole"] = _whole_number("hole", config["hole"], 0, 5)
    for name in ("embedding_dim", "filters", "hidden", "batch_size", "epochs"):
        config[name] = _whole_number(name, config[name], 1)
    rate = config["learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise ValueError(f"blind-spot setting learning_rate must be a number, got {rate!r}")
    if rate <= 0:
        raise ValueError(f"blind-spot setting learning_rate must be > 0, got {rate!r}")
    config["learning_rate"] = float(rate)
    dilations = config["dilations"]
    if isinstance(dilations, str | bytes) or not hasattr(dilations, "__iter__"):
        raise ValueError(f"blind-spot setting dilations must be a sequence, got {dilations!r}")
    dilations = tuple(_whole_number("dilations", value, 1) for value in dilations)
    if not dilations or len(set(dilations)) != len(dilations):
        raise ValueError(
            f"blind-spot setting dilations must be distinct integers >= 1, got {dilations!r}"
        )
    config["dilations"] = dilations
    return config


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


def make_blind_spot_model(
    num_embeddings: int,
    grid_size: int,
    hole: int | None = None,
    embedding_dim: int | None = None,
    filters: int | None = None,
    hidden: int | None = None,
    learning_rate: float | None = None,
    dilations: tuple[int, ...] | None = None,
) -> keras.Model:
    """The blind-spot model of the module docstring, compiled (Adam, cross-entropy).

    A setting left at None takes its value from :data:`DEFAULT_BLIND_SPOT`
    (:func:`configuration` checks them). Inputs
    ``[codes int32 [B, grid_size, grid_size], slice_heights float32 [B, 1]]``; output logits
    float32 ``[B, grid_size, grid_size, num_embeddings]``.
    """
    given = dict(
        hole=hole,
        embedding_dim=embedding_dim,
        filters=filters,
        hidden=hidden,
        learning_rate=learning_rate,
        dilations=dilations,
    )
    config = configuration({name: value for name, value in given.items() if value is not None})
    hole, filters, hidden = config["hole"], config["filters"], config["hidden"]
    if num_embeddings < 2 or grid_size < 1:
        raise ValueError(
            f"need num_embeddings >= 2 and grid_size >= 1, got {num_embeddings}, {grid_size}"
        )
    codes = keras.Input((grid_size, grid_size), dtype="int32", name="codes")
    slice_heights = keras.Input((1,), name="slice_heights")
    embedded = keras.layers.Embedding(num_embeddings, config["embedding_dim"], name="embedding")(
        codes
    )
    rings = [
        HoleConv2D(
            filters if dilation == 1 else max(1, filters // 2),
            hole + 2 if dilation == 1 else 3,
            hole // dilation,
            dilation,
            name=f"hole_conv_d{dilation}",
        )(embedded)
        for dilation in config["dilations"]
    ]
    features = keras.layers.Concatenate(name="rings")(rings)
    features = keras.layers.ReLU()(GridContext(name="grid_context")(features, slice_heights))
    hidden_1 = keras.layers.Conv2D(hidden, 1, activation="relu", name="hidden_1")(features)
    hidden_2 = keras.layers.Conv2D(hidden, 1, activation="relu", name="hidden_2")(hidden_1)
    logits = keras.layers.Conv2D(num_embeddings, 1, dtype="float32", name="logits")(hidden_2)
    model = keras.Model([codes, slice_heights], logits, name=f"blind_spot_hole{hole}")
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _inputs(codes, slice_heights) -> list[np.ndarray]:
    """The model's inputs ``[codes int32 [N, h, w], slice_heights float32 [N, 1]]``, checked."""
    codes = np.asarray(codes)
    if codes.ndim != 3 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"codes must be an integer array [N, h, w], got {codes.dtype} {codes.shape}"
        )
    return [codes.astype(np.int32), check_slice_heights(slice_heights, len(codes))[:, None]]


def train_blind_spot_model(
    model: keras.Model,
    train_codes: npt.ArrayLike,
    train_slice_heights: npt.ArrayLike,
    validation_codes: npt.ArrayLike | None = None,
    validation_slice_heights: npt.ArrayLike | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    verbose: int = 2,
) -> dict[str, list[float]]:
    """Fit ``model`` to healthy code grids ``[N, h, w]`` of slices at heights ``[N]``.

    The target of every position is its own code, so the loss is the mean of
    ``-ln p(c[i, j] | surroundings)`` in nats; returns the Keras history. ``epochs`` and
    ``batch_size`` left at None come from :data:`DEFAULT_BLIND_SPOT`. The validation grids
    (if any) are scored once, after the last epoch (``val_loss`` holds one value): nothing
    is chosen by them during training, and scoring them every epoch costs time.
    """
    config = configuration(
        {
            name: value
            for name, value in (("epochs", epochs), ("batch_size", batch_size))
            if value is not None
        }
    )
    validation = None
    if validation_codes is not None:
        validation = (
            _inputs(validation_codes, validation_slice_heights),
            np.asarray(validation_codes, np.int32),
        )
    history = model.fit(
        _inputs(train_codes, train_slice_heights),
        np.asarray(train_codes, np.int32),
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        validation_data=validation,
        validation_freq=config["epochs"],
        verbose=verbose,
    )
    return {name: [float(value) for value in values] for name, values in history.history.items()}


def predict_logits(
    model: keras.Model, codes: npt.ArrayLike, slice_heights: npt.ArrayLike, batch_size: int = 32
) -> npt.NDArray[np.float32]:
    """The logits float32 ``[N, h, w, K]`` of every position of ``codes`` ``[N, h, w]``.

    ``slice_heights``: the slices' heights ``[N]`` (or one value) in ``[0, 1]``
    (:func:`oasis_helpers.code_location.check_slice_heights`).
    """
    return model.predict(_inputs(codes, slice_heights), batch_size=batch_size, verbose=0)


def surprise_bits(
    model: keras.Model, codes: npt.ArrayLike, slice_heights: npt.ArrayLike, batch_size: int = 32
) -> npt.NDArray[np.float32]:
    """``-log2 p(c[i, j] | surroundings)`` of every observed code: float32 ``[N, h, w]``."""
    logits = predict_logits(model, codes, slice_heights, batch_size)
    log_p = tf.nn.log_softmax(tf.constant(logits, tf.float32), axis=-1).numpy()
    observed = np.asarray(codes)[..., None].astype(np.intp)
    return (-np.take_along_axis(log_p, observed, axis=-1)[..., 0] / np.log(2.0)).astype(np.float32)


def load_blind_spot_model(path: str | os.PathLike) -> keras.Model:
    """Load a blind-spot model saved as ``.keras`` (safe mode: no Python is unpickled).

    :func:`oasis_helpers.runs.load_saved_model`, as for the series' other models. The model
    is a functional ``keras.Model``, not a class of its own, so what makes it a blind-spot
    model is checked by its layers: it has :class:`HoleConv2D` rings.

    Raises:
        FileNotFoundError: ``path`` is missing (the message names notebook 05).
        ValueError: the file holds another model.
    """
    from oasis_helpers import runs

    model = runs.load_saved_model(path, keras.Model, "05_anomaly_detection", compile=False)
    if not any(isinstance(layer, HoleConv2D) for layer in model.layers):
        raise ValueError(f"{path} holds the model {model.name!r}, not a blind-spot model")
    return model


def _fingerprint(codes, slice_heights) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(codes, np.int32).tobytes())
    digest.update(check_slice_heights(slice_heights, len(codes)).tobytes())
    return digest.hexdigest()[:16]


def _configuration_parts(
    num_embeddings: int, train_codes: np.ndarray, train_slice_heights, config, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_config, settings)`` for ``training.config_run_dir``.

    The blind-spot model trains in one call and never resumes, so every setting of its
    configuration, ``epochs`` included, goes into the first part (``config_run_dir`` drops
    ``epochs`` from the second, where raising it continues a run of ``training.fit``).
    """
    model_config = {
        "num_embeddings": int(num_embeddings),
        "grid": list(train_codes.shape[1:]),
        **configuration(config),
    }
    settings = {"seed": int(seed), "codes": _fingerprint(train_codes, train_slice_heights)}
    return model_config, settings


def run_configuration(
    num_embeddings: int,
    train_codes: npt.ArrayLike,
    train_slice_heights: npt.ArrayLike,
    config=None,
    seed: int = 0,
) -> dict[str, Any]:
    """The configuration that identifies a trained blind-spot model, as stored with it.

    ``{"model": {num_embeddings, grid, and every setting of configuration(config)},
    "settings": {seed, codes}}`` (``training.run_configuration``, JSON-normalised), where
    ``codes`` is a SHA-256 fingerprint of the training codes and heights.
    """
    from oasis_helpers import training

    train_codes = np.asarray(train_codes, np.int32)
    return training.run_configuration(
        *_configuration_parts(num_embeddings, train_codes, train_slice_heights, config, seed)
    )


def load_trained(
    folder: str | os.PathLike, expected: dict[str, Any] | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """Load the model that :func:`train_or_load` saved in ``folder``, with its record.

    Args:
        folder: a configuration's folder (``base_dir/<8 hex digits>``).
        expected: the configuration the caller expects (:func:`run_configuration`), or
            None to load whatever the folder holds.

    Returns:
        ``(model, record)``; ``record`` holds ``"configuration"``, ``"config"`` (the
        blind-spot settings) and ``"history"`` as stored.

    Raises:
        FileNotFoundError: the folder holds no trained model.
        oasis_helpers.training.ConfigMismatchError: the folder's configuration is not
            ``expected`` (each differing setting listed, stored -> expected), or its record
            is not JSON.
    """
    from oasis_helpers import training

    folder = Path(folder)
    record_path, model_path = folder / RECORD_FILE, folder / MODEL_FILE
    if not record_path.exists() or not model_path.exists():
        raise FileNotFoundError(
            f"{folder} holds no trained blind-spot model ({MODEL_FILE} and {RECORD_FILE}): "
            "blind_spot.train_or_load trains one (notebook 05 does)"
        )
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as error:
        raise training.ConfigMismatchError(
            f"{record_path} is not valid JSON ({error}): delete {folder} to train again"
        ) from error
    if expected is not None:
        differences = training.configuration_differences(
            record["configuration"], training.json_normalised(expected)
        )
        if differences:
            raise training.ConfigMismatchError(
                f"{folder} holds a blind-spot model of another configuration, so it is not "
                f"loaded. Differing settings (stored -> expected):\n"
                f"{training.format_differences(differences)}\n"
                "blind_spot.train_or_load(base_dir, ...) gives each configuration a folder "
                "of its own under base_dir.",
                differences,
            )
    return load_blind_spot_model(model_path), record


def train_or_load(
    base_dir: str | os.PathLike,
    num_embeddings: int,
    train_codes: npt.ArrayLike,
    train_slice_heights: npt.ArrayLike,
    validation_codes: npt.ArrayLike | None = None,
    validation_slice_heights: npt.ArrayLike | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a blind-spot model on healthy grids, or load the one trained before with the
    same configuration on the same codes.

    ``config`` holds any settings of :data:`DEFAULT_BLIND_SPOT` to change (the others keep
    their defaults; :func:`configuration`). Each configuration has a folder of its own,
    ``training.config_run_dir(base_dir, ...)``, keyed by :func:`run_configuration`: every
    blind-spot setting, the codebook size, the grid size, the seed and a SHA-256
    fingerprint of the training codes and heights. The folder holds ``config.json``, the
    model (:data:`MODEL_FILE`) and a record of the configuration and the per-epoch losses
    (:data:`RECORD_FILE`, written last, so a folder without it is trained again). So
    changing any setting, or re-running notebook 03 or 04 (new codes), trains a new model
    in a new folder, and changing it back loads the old one.

    Returns:
        ``(model, record)``: ``record`` holds ``"configuration"``, ``"config"`` (the full
        blind-spot settings), ``"history"`` (the per-epoch losses in nats, stored with
        the model), ``"folder"`` and ``"loaded"`` (True when nothing was trained).

    Raises:
        ValueError: an unknown setting, a value out of range, or slice heights missing or
            outside ``[0, 1]`` (before any work).
        oasis_helpers.training.ConfigMismatchError: the folder of this configuration
            holds a record of another one (edited or copied by hand); nothing is loaded
            or overwritten.
    """
    from oasis_helpers import runs, training

    base_dir = Path(base_dir)
    if base_dir.suffix == ".keras":
        raise ValueError(
            f"{base_dir}: train_or_load takes the folder that holds one sub-folder per "
            f"configuration (e.g. run_dir/05_anomaly_detection/{MODEL_DIR}), not a model file"
        )
    train_codes = np.asarray(train_codes, np.int32)
    if train_codes.ndim != 3 or train_codes.shape[1] != train_codes.shape[2]:
        raise ValueError(f"train_codes must be square grids [N, h, h], got {train_codes.shape}")
    if validation_codes is not None:  # the heights are checked before any work (the
        # training ones by the fingerprint of _configuration_parts)
        _inputs(validation_codes, validation_slice_heights)
    config = configuration(config)
    model_config, settings = _configuration_parts(
        num_embeddings, train_codes, train_slice_heights, config, seed
    )
    expected = training.run_configuration(model_config, settings)
    folder = training.config_run_dir(base_dir, model_config, settings)
    if (folder / RECORD_FILE).exists() and (folder / MODEL_FILE).exists():
        model, record = load_trained(folder, expected)
        return model, {**record, "folder": str(folder), "loaded": True}
    keras.utils.set_random_seed(int(seed))
    model = make_blind_spot_model(
        num_embeddings,
        train_codes.shape[1],
        **{name: config[name] for name in MODEL_SETTINGS},
    )
    start = time.perf_counter()
    history = train_blind_spot_model(
        model,
        train_codes,
        train_slice_heights,
        validation_codes,
        validation_slice_heights,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        verbose=0,
    )
    record = {
        "configuration": expected,
        "config": training.json_normalised(config),
        "history": history,
        "train_seconds": time.perf_counter() - start,
    }
    runs.save_model(model, folder / MODEL_FILE)
    runs.write_json(folder / RECORD_FILE, record)
    return model, {**record, "folder": str(folder), "loaded": False}
