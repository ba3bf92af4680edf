"""A tiny VQ-VAE (16-32 px) and images of disks for the tests of :mod:`oasis_helpers.training`.

The file mechanics are tested eagerly (``run_eagerly=True``: no graph tracing, fast).
"""

from __future__ import annotations

import keras
import numpy as np
import oasis_fixtures as fx
import tensorflow as tf

from oasis_helpers import models

TINY = {
    **fx.TINY_VQVAE,
    # deterministic quantizer: fixed seed for its data initialisation
    "quantizer_options": {"seed": 7},
}

#: Data and training settings of a run (``fit(..., settings=SETTINGS)``).
SETTINGS = {"data_dir": None, "crop_size": 32, "batch_size": 8, "seed": 42, "epochs": 1}


def _disks(count: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` bright disks of random intensity and radius on black, float32 [N, S, S, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    radius = rng.uniform(0.2, 0.4, (count, 1, 1)) * size
    disk = ((rows - size / 2) ** 2 + (cols - size / 2) ** 2 < radius**2).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (count, 1, 1)))[..., None].astype(np.float32)


def _dataset(images, batch_size: int = 8):
    """``len(images) / batch_size`` batches per epoch in a fixed order (repeatable runs)."""
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size)


def _model(seed: int = 0, learning_rate: float = 2e-3, **overrides):
    keras.utils.set_random_seed(seed)
    return models.make_vqvae(
        learning_rate=learning_rate, run_eagerly=True, **dict(TINY, **overrides)
    )


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(weight) for weight in model.weights]
