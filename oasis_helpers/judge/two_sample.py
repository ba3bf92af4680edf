"""The classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017): can a small CNN tell
set A (e.g. the prior's samples) from set B (real training slices)?

Each set is cut into a fitting half and a held-out half, **by subject** where subject
ids are given (so that the classifier cannot pass by recognising a subject it has seen,
only by what tells the sets apart), else at random. A fresh CNN is trained to output
``p(A | image)`` on the fitting halves (as many slices of each set: the larger is
subsampled) with binary cross-entropy, and scored on the held-out halves by the
balanced accuracy::

    accuracy = (mean_{x in A held out} [p(A|x) > 1/2] + mean_{x in B held out} [p(A|x) <= 1/2]) / 2

0.5: the classifier cannot tell the sets apart (the same distribution, as far as it
can see); 1: it always can. The test is repeated for each seed (new halves, new
weights) and the accuracies averaged.

Shapes: ``a`` ``[N_a, S, S, 1]``, ``b`` ``[N_b, S, S, 1]`` float32 in ``[0, 1]``;
``groups_a`` ``[N_a]``, ``groups_b`` ``[N_b]`` (subject ids) or ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from keras import layers

from oasis_helpers import runs

__all__ = [
    "DEFAULT_C2ST",
    "build_set_classifier",
    "classifier_two_sample_test",
    "held_out_halves",
    "working_images",
]

#: Settings of :func:`classifier_two_sample_test`.
DEFAULT_C2ST = {"seeds": (0, 1, 2), "steps": 150, "batch_size": 32, "learning_rate": 2e-3}
#: The side the classifier works at (larger slices are average-pooled to it).
_WORKING_SIZE = 64


def build_set_classifier(image_size: int, channels: Sequence[int] = (16, 32, 64)) -> keras.Model:
    """A small CNN ``[N, S, S, 1] -> [N, 1]``, ``p(set A | image)`` (a sigmoid).

    Average-pooled to 64 x 64 (when larger), then per width a stride-2 3x3 convolution,
    batch normalisation and ReLU; global average pooling; a dense unit. Left-right flips
    while training.
    """
    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = layers.RandomFlip("horizontal")(inputs)
    if image_size > _WORKING_SIZE:
        x = layers.AveragePooling2D(image_size // _WORKING_SIZE)(x)
    for width in channels:
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x), name="set_classifier")


def working_images(images: np.ndarray) -> np.ndarray:
    """``images`` ``[N, S, S, 1]`` average-pooled as :func:`build_set_classifier` pools them
    (blocks of ``S // 64`` pixels, the remainder cropped), done once before training rather
    than in every batch: ``[N, S // f, S // f, 1]``, ``f = max(1, S // 64)``."""
    factor = max(1, images.shape[1] // _WORKING_SIZE)
    if factor == 1:
        return images
    side = images.shape[1] // factor
    blocks = images[:, : side * factor, : side * factor]
    return blocks.reshape(len(images), side, factor, side, factor, 1).mean(axis=(2, 4))


def held_out_halves(
    count: int, groups: npt.ArrayLike | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, held_out)`` of ``count`` items: whole groups go to one side.

    With ``groups`` (``[count]``, e.g. subject ids) the distinct groups are shuffled and
    given to the held-out side until it holds at least half of the items (at least one
    group on each side); without groups, or with a single group, a random half.
    """
    order = rng.permutation(count)
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        if groups.shape != (count,):
            raise ValueError(f"groups must hold one id per item ({count}), got {groups.shape}")
    if groups is None or len(np.unique(groups)) < 2:  # nothing to hold out by: random halves
        return np.sort(order[count // 2 :]), np.sort(order[: count // 2])
    distinct = rng.permutation(np.unique(groups))
    held = np.zeros(count, bool)
    for group in distinct[:-1]:
        if held.sum() >= count / 2:
            break
        held |= groups == group
    return np.flatnonzero(~held), np.flatnonzero(held)


def _balanced_accuracy(probabilities_a: np.ndarray, probabilities_b: np.ndarray) -> float:
    return float(((probabilities_a > 0.5).mean() + (probabilities_b <= 0.5).mean()) / 2)


def classifier_two_sample_test(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    groups_a: npt.ArrayLike | None = None,
    groups_b: npt.ArrayLike | None = None,
    seeds: Sequence[int] = DEFAULT_C2ST["seeds"],
    steps: int = DEFAULT_C2ST["steps"],
    batch_size: int = DEFAULT_C2ST["batch_size"],
    learning_rate: float = DEFAULT_C2ST["learning_rate"],
) -> dict[str, Any]:
    """The C2ST accuracy of set ``a`` against set ``b``, over ``seeds``.

    Args:
        a, b: float32 images ``[N, S, S, 1]`` of the same side, at least 4 each.
        groups_a, groups_b: subject ids ``[N]`` of the slices, or ``None`` (samples).
        seeds: one test per seed (halves, weights, shuffling, flips).
        steps, batch_size, learning_rate: of each classifier's training (Adam, one graph
            ``fit`` of ``steps`` batches, half of each set per batch on average).

    Returns:
        ``{"accuracy": mean, "std": std over seeds, "per_seed": [...], "held_out": held-out
        slices scored per seed (A + B, mean), "fit": slices per set fitted on}``.
    """
    import tensorflow as tf

    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.ndim != 4 or a.shape[1:] != b.shape[1:] or a.shape[-1] != 1:
        raise ValueError(
            f"a and b must be images [N, S, S, 1] of one size, got {a.shape}, {b.shape}"
        )
    if min(len(a), len(b)) < 4:
        raise ValueError(f"each set needs at least 4 images, got {len(a)} and {len(b)}")
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    a, b = working_images(a), working_images(b)  # the classifier's own pooling, once
    accuracies, held_counts, fit_counts = [], [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        fit_a, held_a = held_out_halves(len(a), groups_a, rng)
        fit_b, held_b = held_out_halves(len(b), groups_b, rng)
        per_set = min(len(fit_a), len(fit_b))
        fit_a = rng.choice(fit_a, per_set, replace=False)
        fit_b = rng.choice(fit_b, per_set, replace=False)
        images = np.concatenate([a[fit_a], b[fit_b]])
        labels = np.concatenate([np.ones(per_set), np.zeros(per_set)]).astype(np.float32)[:, None]
        runs.seed_everything(seed)
        model = build_set_classifier(a.shape[1])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
        dataset = (
            tf.data.Dataset.from_tensor_slices((images, labels))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(min(int(batch_size), len(images)), drop_remainder=True)
        )
        model.fit(dataset, epochs=1, steps_per_epoch=int(steps), verbose=0, shuffle=False)
        probabilities_a = np.asarray(model(a[held_a], training=False)).reshape(-1)
        probabilities_b = np.asarray(model(b[held_b], training=False)).reshape(-1)
        accuracies.append(_balanced_accuracy(probabilities_a, probabilities_b))
        held_counts.append(len(held_a) + len(held_b))
        fit_counts.append(per_set)
    return {
        "accuracy": float(np.mean(accuracies)),
        "std": float(np.std(accuracies)),
        "per_seed": accuracies,
        "held_out": float(np.mean(held_counts)),
        "fit": float(np.mean(fit_counts)),
    }
