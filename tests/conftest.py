"""Shared pytest set-up: quiet TensorFlow logs before anything imports it, and the
fixtures that more than one test module uses (tiny models and images, closing figures)."""

import os

import oasis_fixtures as fx
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="module")
def images():
    """16 slices ``[16, 32, 32, 1]``: a disc of random intensities on black."""
    return fx.disc_slices(16, 32, radius=10)


@pytest.fixture(scope="module")
def disks():
    """16 slices ``[16, 32, 32, 1]``: bright disks of random intensity and radius on black
    (the training tests' images, :func:`oasis_fixtures.bright_disks`)."""
    return fx.bright_disks(16, 32)


@pytest.fixture(scope="module")
def trained(images):
    """A tiny EMA model (:data:`oasis_fixtures.TINY_VQVAE`) after two epochs of (eager)
    training, and its history."""
    import keras

    from oasis_helpers import models

    keras.utils.set_random_seed(0)
    model = models.make_vqvae(learning_rate=3e-3, run_eagerly=True, **fx.TINY_VQVAE)
    history = model.fit(images, batch_size=8, epochs=2, verbose=0)
    return model, history.history


@pytest.fixture
def png_root(tmp_path):
    """A small OASIS PNG layout (``keras_png_slices_*``, with masks) under ``tmp_path``."""
    return fx.write_png_layout(tmp_path / "oasis")


@pytest.fixture
def private_demo_cache(tmp_path, monkeypatch):
    """A demo-cohort cache of the test's own (``OASIS_VQVAE_CACHE``)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("OASIS_VQVAE_CACHE", str(folder))
    return folder


@pytest.fixture
def close_figures():
    """Draw with matplotlib's Agg backend (no window) and close every figure the test drew."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="session")
def judge_cohort():
    """The judge tests' tiny cohort: ``(train, validate, test)`` splits of 8, 3 and 3
    subjects of 12 slices, 32x32 (:func:`oasis_fixtures.anatomy_cohort`)."""
    return tuple(fx.anatomy_cohort(count, seed=seed) for seed, count in enumerate((8, 3, 3)))


@pytest.fixture(scope="session")
def trained_judge(judge_cohort):
    """A judge trained on the tiny cohort (height, tissues, layout): ``JudgeResult``."""
    from oasis_helpers import judge

    train, validate, _ = judge_cohort
    return judge.train_judge_on_splits(train, validate, seed=0, steps=150, batch_size=16)
