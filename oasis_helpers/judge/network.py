"""The anatomy judge: a small CNN that reads a brain slice and says where in the head it
lies and how much of each tissue it shows.

A sample quality measure in the VQ-VAE's own encoder features rewards matching the
VQ-VAE's texture (the features were trained to reconstruct it). The judge's features
were trained for tasks that need anatomy instead:

* ``height``: the slice's normalised axial height within its subject, in ``[0, 1]``
  (:func:`oasis_helpers.code_location.slice_heights`: 0 its lowest slice, 1 its highest);
* ``tissue`` (where masks exist): the fractions of the slice's area that are CSF, grey
  matter and white matter, ``[3]`` in ``[0, 1]`` (:func:`tissue_fractions`).

Shapes, for ``N`` slices of side ``S``::

    images     [N, S, S, 1]  float32 in [0, 1]
    features   [N, D]        float32 >= 0: the last convolution's ReLU maps, averaged
                             over the slice (global average pooling), D = FEATURE_WIDTH
    height     [N]           float32 in [0, 1] (a sigmoid; the model's own output is [N, 1])
    tissue     [N, 3]        float32 in [0, 1] (sigmoids): CSF, GM, WM area fractions

The network is a plain functional Keras model of stock layers (safe-mode loadable):
one stride-2 3x3 convolution per stage (each but the first followed by a 3x3 convolution), batch
normalisation and ReLU, then global average pooling (the ``features`` layer) and one
dense head per target. Inputs larger than :data:`WORKING_SIZE` are average-pooled down
to it first, so the judge costs the same at 256 as at 64 pixels (anatomy, the height and the
tissues' extent, is plain at 64 x 64; texture is not what it is for).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import numpy.typing as npt
from keras import layers

__all__ = [
    "FEATURE_LAYER",
    "FEATURE_WIDTH",
    "JUDGE_FILE",
    "TARGETS",
    "TISSUES",
    "WORKING_SIZE",
    "build_judge",
    "feature_model",
    "judge_features",
    "judge_predictions",
    "judge_targets",
    "tissue_fractions",
]

#: The file the judge is saved to, in a run's notebook folder (``run_dir/04_pixelcnn_prior/``).
JUDGE_FILE = "judge.keras"
#: The name of the pooled-feature layer (:func:`feature_model` reads it).
FEATURE_LAYER = "features"
#: D, the width of the judge's features (channels of its last stage).
FEATURE_WIDTH = 64
#: The side the judge works at: larger slices are average-pooled to it (a power of two).
WORKING_SIZE = 64
#: Mask labels of the tissues, in the order of the ``tissue`` output (0 is background).
TISSUES = {"csf": 1, "grey_matter": 2, "white_matter": 3}
#: What a judge can be trained to predict.
TARGETS = ("height", "tissue")
_CHANNELS = (16, 32, 64, FEATURE_WIDTH)


def tissue_fractions(masks: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The fraction of each slice's area that each tissue covers: float32 ``[N, 3]``.

    ``fraction[n, t] = mean over pixels of (masks[n] == label_t)`` with the labels of
    :data:`TISSUES` (1 CSF, 2 grey matter, 3 white matter; the OASIS convention).

    Args:
        masks: int labels ``[N, S, S]`` (or ``[N, S, S, 1]``), 0 background.
    """
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape [N, S, S], got {masks.shape}")
    flat = masks.reshape(len(masks), -1)
    return np.stack([(flat == label).mean(axis=1) for label in TISSUES.values()], axis=1).astype(
        np.float32
    )


def judge_targets(model: keras.Model) -> tuple[str, ...]:
    """The targets a judge predicts (its output names among :data:`TARGETS`)."""
    return tuple(name for name in model.output_names if name in TARGETS)


def build_judge(
    image_size: int,
    targets: Sequence[str] = TARGETS,
    channels: Sequence[int] = _CHANNELS,
    augment: bool = True,
) -> keras.Model:
    """The judge for slices ``[N, image_size, image_size, 1]``, untrained.

    Args:
        image_size: S, a power-of-two multiple of 8 (at most ``WORKING_SIZE`` after pooling
            gives a ``WORKING_SIZE / 2^stages`` final map).
        targets: a non-empty subset of :data:`TARGETS`, in any order.
        channels: widths of the stride-2 stages; the last is D, the feature width.
        augment: a random left-right flip while training (height and tissue fractions do
            not change under it; the brain is roughly symmetric).

    Returns:
        A functional ``keras.Model`` named ``anatomy_judge`` whose outputs are a dict
        ``{"height": [N], "tissue": [N, 3]}`` restricted to ``targets``.
    """
    targets = tuple(dict.fromkeys(targets))
    unknown = sorted(set(targets) - set(TARGETS))
    if not targets or unknown:
        raise ValueError(f"targets must be a non-empty subset of {TARGETS}, got {targets!r}")
    if int(image_size) != image_size or image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size!r}")
    channels = tuple(int(width) for width in channels)
    if not channels or min(channels) < 1:
        raise ValueError(f"channels must be positive widths, got {channels!r}")
    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal", name="flip")(x)
    if image_size > WORKING_SIZE:
        pool = image_size // WORKING_SIZE
        x = layers.AveragePooling2D(pool, name="to_working_size")(x)
    for stage, width in enumerate(channels):
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"down{stage}")(
            x
        )
        x = layers.BatchNormalization(momentum=0.9, name=f"norm{stage}a")(x)
        x = layers.ReLU(name=f"relu{stage}a")(x)
        if stage == 0:  # the cheapest stage: the widest maps get one convolution
            continue
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"norm{stage}b")(x)
        x = layers.ReLU(name=f"relu{stage}b")(x)
    features = layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    outputs = {}
    if "height" in targets:
        outputs["height"] = layers.Dense(1, activation="sigmoid", name="height")(features)
    if "tissue" in targets:
        outputs["tissue"] = layers.Dense(len(TISSUES), activation="sigmoid", name="tissue")(
            features
        )
    return keras.Model(inputs, outputs, name="anatomy_judge")


def feature_model(model: keras.Model) -> keras.Model:
    """The judge cut at its pooled features: images ``[N, S, S, 1]`` -> ``[N, D]``."""
    return keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output, name="judge_features")


def _check_images(images, model: keras.Model) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(
            f"images must have shape [N, {', '.join(map(str, expected))}], got {images.shape}"
        )
    return images


def judge_features(
    model: keras.Model, images: npt.ArrayLike, batch_size: int = 64
) -> npt.NDArray[np.float64]:
    """The judge's pooled penultimate features of ``images``: float64 ``[N, D]``.

    The space in which :mod:`oasis_helpers.judge.distances` compares sets of slices.
    """
    images = _check_images(images, model)
    cut = feature_model(model)
    if not len(images):
        return np.zeros((0, cut.output.shape[-1]))
    return np.asarray(cut.predict(images, batch_size=batch_size, verbose=0), np.float64)


def judge_predictions(
    model: keras.Model, images: npt.ArrayLike, batch_size: int = 64
) -> dict[str, npt.NDArray[np.float32]]:
    """What the judge reads in ``images``: ``{"height": [N], "tissue": [N, 3]}`` (its targets)."""
    images = _check_images(images, model)
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    predictions = {name: np.asarray(outputs[name], np.float32) for name in judge_targets(model)}
    if "height" in predictions:
        predictions["height"] = predictions["height"].reshape(-1)
    return predictions
