"""The anatomy judge: a small CNN that reads a brain slice and says where in the head it
lies and how much of each tissue it shows.

A sample quality measure in the VQ-VAE's own encoder features rewards matching the
VQ-VAE's texture (the features were trained to reconstruct it). The judge's features
were trained for tasks that need anatomy instead:

* ``height``: the slice's normalised axial height within its subject, in ``[0, 1]``
  (:func:`oasis_helpers.code_location.slice_heights`: 0 its lowest slice, 1 its highest);
* ``tissue`` (where masks exist): the fractions of the slice's area that are CSF, grey
  matter and white matter, ``[3]`` in ``[0, 1]`` (:func:`tissue_fractions`);
* ``layout`` (where masks exist): the same fractions in each cell of a coarse
  ``LAYOUT_GRID x LAYOUT_GRID`` grid, averaged with the mirror cell (left-right), ``[G*G*3]``
  (:func:`tissue_layout`): *where* each tissue lies, so that the features know a slice's
  spatial anatomy (an upside-down slice has the right tissue fractions, not the right layout).

Shapes, for ``N`` slices of side ``S``::

    images     [N, S, S, 1]  float32 in [0, 1]
    features   [N, D]        float32 >= 0: the last convolution's ReLU maps averaged over
                             each cell of a 2 x 2 grid (top/bottom, left/right halves),
                             D = FEATURE_WIDTH = 4 x 64
    height     [N]           float32 in [0, 1] (a sigmoid; the model's own output is [N, 1])
    tissue     [N, 3]        float32 in [0, 1] (sigmoids): CSF, GM, WM area fractions
    layout     [N, G*G*3]    float32 in [0, 1] (sigmoids): those fractions per grid cell,
                             row-major cells, tissue fastest

The network is a plain functional Keras model of stock layers (safe-mode loadable):
one stride-2 3x3 convolution per stage (each but the first followed by a 3x3
convolution), batch normalisation and ReLU. The ``features`` layer is the last maps
averaged over a 2 x 2 grid (so they say where, not only what: global pooling alone would
not tell an upside-down slice); the height and tissue heads are dense units on them, the
layout head a 1x1 convolution of the last maps pooled to the ``G x G`` grid. Inputs
larger than :data:`WORKING_SIZE` are average-pooled down to it first, so the judge costs
the same at 256 as at 64 pixels (anatomy, the height and the tissues' extent, is plain
at 64 x 64; texture is not what it is for).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import numpy.typing as npt
from keras import layers

__all__ = [
    "FEATURE_GRID",
    "FEATURE_LAYER",
    "FEATURE_WIDTH",
    "JUDGE_FILE",
    "LAYOUT_GRID",
    "TARGETS",
    "TISSUES",
    "WORKING_SIZE",
    "build_judge",
    "feature_model",
    "judge_features",
    "judge_predictions",
    "judge_targets",
    "tissue_fractions",
    "tissue_layout",
]

#: The file the judge is saved to, in a run's notebook folder (``run_dir/04_pixelcnn_prior/``).
JUDGE_FILE = "judge.keras"
#: The name of the pooled-feature layer (:func:`feature_model` reads it).
FEATURE_LAYER = "features"
#: The judge's features are its last maps averaged over the cells of this grid.
FEATURE_GRID = 2
#: D, the width of the judge's features: FEATURE_GRID^2 cells x the last stage's 64 channels.
FEATURE_WIDTH = FEATURE_GRID * FEATURE_GRID * 64
#: The side the judge works at: larger slices are average-pooled to it (a power of two).
WORKING_SIZE = 64
#: Mask labels of the tissues, in the order of the ``tissue`` output (0 is background).
TISSUES = {"csf": 1, "grey_matter": 2, "white_matter": 3}
#: What a judge can be trained to predict.
TARGETS = ("height", "tissue", "layout")
#: G, the side of the coarse grid of the ``layout`` target.
LAYOUT_GRID = 4
_CHANNELS = (16, 32, 64, 64)


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


def tissue_layout(masks: npt.ArrayLike, grid: int = LAYOUT_GRID) -> npt.NDArray[np.float32]:
    """Tissue area fractions per cell of a ``grid x grid`` grid, mirror-averaged: ``[N, G*G*3]``.

    ``layout[n, i, j, t] = (mean of (masks[n] == label_t) over cell (i, j)
    + the same over cell (i, G - 1 - j)) / 2``, flattened row-major (tissue fastest). The
    mirror average makes the target unchanged by a left-right flip (the judge's
    augmentation). ``S`` must be a multiple of ``grid``.
    """
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.ndim != 3 or masks.shape[1] % grid or masks.shape[2] % grid:
        raise ValueError(
            f"masks must have shape [N, S, S] with S a multiple of {grid}, got {masks.shape}"
        )
    count, height, width = masks.shape
    cells = masks.reshape(count, grid, height // grid, grid, width // grid)
    layout = np.stack([(cells == label).mean(axis=(2, 4)) for label in TISSUES.values()], axis=-1)
    layout = (layout + layout[:, :, ::-1]) / 2
    return layout.reshape(count, -1).astype(np.float32)


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
        augment: a random left-right flip while training (height, tissue fractions and the
            mirror-averaged layout do not change under it).

    Returns:
        A functional ``keras.Model`` named ``anatomy_judge`` whose outputs are a dict
        ``{"height": [N, 1], "tissue": [N, 3], "layout": [N, G*G*3]}`` restricted to
        ``targets``.
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
    if min(image_size, WORKING_SIZE) < FEATURE_GRID * 2 ** len(channels):
        raise ValueError(
            f"image_size {image_size} is too small for {len(channels)} stride-2 stages: the "
            f"last maps must be at least {FEATURE_GRID} x {FEATURE_GRID}"
        )
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
    side = int(x.shape[1])
    cells = layers.AveragePooling2D(side // FEATURE_GRID, name="feature_cells")(x)
    features = layers.Flatten(name=FEATURE_LAYER)(cells)
    outputs = {}
    if "height" in targets:
        outputs["height"] = layers.Dense(1, activation="sigmoid", name="height")(features)
    if "tissue" in targets:
        outputs["tissue"] = layers.Dense(len(TISSUES), activation="sigmoid", name="tissue")(
            features
        )
    if "layout" in targets:  # a 1x1 convolution of the last maps, brought to the G x G grid
        layout = layers.Conv2D(len(TISSUES), 1, activation="sigmoid", name="layout_map")(x)
        if side > LAYOUT_GRID:
            layout = layers.AveragePooling2D(side // LAYOUT_GRID, name="layout_cells")(layout)
        elif side < LAYOUT_GRID:
            layout = layers.UpSampling2D(LAYOUT_GRID // side, name="layout_cells")(layout)
        outputs["layout"] = layers.Flatten(name="layout")(layout)
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
    batches = [
        np.asarray(cut([images[start : start + batch_size]], training=False), np.float64)
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(batches) if batches else np.zeros((0, cut.output.shape[-1]))


def judge_predictions(
    model: keras.Model, images: npt.ArrayLike, batch_size: int = 64
) -> dict[str, npt.NDArray[np.float32]]:
    """What the judge reads in ``images``: ``{"height": [N], "tissue": [N, 3], "layout":
    [N, G*G*3]}`` (those of its targets)."""
    images = _check_images(images, model)
    names = judge_targets(model)
    # called batch by batch, not through ``predict``: a new tf.function per call would be
    # traced again for every set a notebook judges
    batches = [model(images[start : start + batch_size], training=False)
               for start in range(0, len(images), batch_size)]  # fmt: skip
    predictions = {
        name: np.concatenate([np.asarray(batch[name], np.float32) for batch in batches])
        for name in names
    }
    if "height" in predictions:
        predictions["height"] = predictions["height"].reshape(-1)
    return predictions
