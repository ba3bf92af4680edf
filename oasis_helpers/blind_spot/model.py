"""The blind-spot model: building (:func:`make_blind_spot_model`), training, its logits and
surprise in bits (:func:`surprise_bits`), and loading a saved one.

Every function that runs it takes the slices' heights, checked by :func:`model_inputs`.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.blind_spot.configuration import configuration
from oasis_helpers.blind_spot.layers import GridContext, HoleConv2D
from oasis_helpers.code_location import check_slice_heights

__all__ = [
    "load_blind_spot_model",
    "make_blind_spot_model",
    "model_inputs",
    "predict_logits",
    "surprise_bits",
    "train_blind_spot_model",
]


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


def model_inputs(codes, slice_heights) -> list[np.ndarray]:
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
            model_inputs(validation_codes, validation_slice_heights),
            np.asarray(validation_codes, np.int32),
        )
    history = model.fit(
        model_inputs(train_codes, train_slice_heights),
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
    return model.predict(model_inputs(codes, slice_heights), batch_size=batch_size, verbose=0)


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
