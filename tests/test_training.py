"""Training that survives faults: resume after an interruption, continue with more epochs,
NaN stops with a clear message, logs, the time budget, the schedule, and two replicas.

Tiny models on 32x32 images, trained eagerly (no graph tracing) except in the
two-device subprocess, which needs graphs for MirroredStrategy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from oasis_helpers import training

TINY = {
    "image_size": 32,
    "channels": (8, 16),
    "num_residual_blocks": 1,
    "residual_channels": 8,
    "num_embeddings": 16,
    "embedding_dim": 4,
    # deterministic quantizer: fixed seed for its data initialisation
    "quantizer_options": {"seed": 7},
}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:32, :32]
    disk = ((rows - 16) ** 2 + (cols - 16) ** 2 < 100).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (16, 32, 32)))[..., None].astype(np.float32)


def _dataset(images):
    """Two batches per epoch in a fixed order, so that runs are exactly repeatable."""
    return tf.data.Dataset.from_tensor_slices(images).batch(8)


def _model(seed: int = 0, learning_rate: float = 2e-3, **overrides):
    keras.utils.set_random_seed(seed)
    return training.make_vqvae(
        learning_rate=learning_rate, run_eagerly=True, **dict(TINY, **overrides)
    )


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(weight) for weight in model.weights]


class _Interrupt(keras.callbacks.Callback):
    """Simulates a crash (or a kernel restart) when epoch ``at`` begins."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt(f"simulated interruption at epoch {epoch}")


class _PoisonWeights(keras.callbacks.Callback):
    """Makes the decoder's output bias NaN when epoch ``at`` begins: the loss turns NaN."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            bias = self.model.decoder.get_layer("up_2").bias
            bias.assign(np.full(bias.shape, np.nan, np.float32))


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, images):
    reference = _model()
    training.fit(reference, _dataset(images), tmp_path / "reference", epochs=4, verbose=0)

    interrupted = _model()
    with pytest.raises(KeyboardInterrupt):
        training.fit(
            interrupted,
            _dataset(images),
            tmp_path / "run",
            epochs=4,
            verbose=0,
            callbacks=[_Interrupt(at=2)],
        )
    assert len(training.read_history(tmp_path / "run")["loss"]) == 2

    # a new process would build a fresh model: the checkpoint brings it back
    resumed = _model(seed=123)  # different initial weights, overwritten by the checkpoint
    result = training.fit(resumed, _dataset(images), tmp_path / "run", epochs=4, verbose=0)
    assert result.resumed and result.initial_epoch == 2 and result.epochs_completed == 4
    assert result.history["epoch"] == [0, 1, 2, 3]
    assert int(resumed.optimizer.iterations.numpy()) == 8  # 4 epochs x 2 steps, none repeated
    for mine, theirs in zip(_weights(resumed), _weights(reference), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


def test_rerun_restores_and_larger_epochs_continue(tmp_path, images):
    first = _model()
    result = training.fit(first, _dataset(images), tmp_path, epochs=2, batch_size=8, verbose=0)
    assert result.stopped_by == "epochs" and result.epochs_completed == 2
    assert result.images_seen == 32 and result.images_per_second > 0

    # the same call again trains nothing and restores the trained weights
    again = _model(seed=5)
    result = training.fit(again, _dataset(images), tmp_path, epochs=2, verbose=0)
    assert result.stopped_by == "already_done" and result.images_seen == 0
    for mine, theirs in zip(_weights(again), _weights(first), strict=True):
        np.testing.assert_array_equal(mine, theirs)

    # a larger epochs trains only the extra epochs, from the checkpoint
    more = _model(seed=6)
    result = training.fit(more, _dataset(images), tmp_path, epochs=3, verbose=0)
    assert result.initial_epoch == 2 and result.epochs_completed == 3
    assert int(more.optimizer.iterations.numpy()) == 6
    assert len(result.history["loss"]) == 3
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["epochs_completed"] == 3 and state["total_images_seen"] == 32
    # the schedule restarts from the first call's peak, not from the decayed rate
    assert state["peak_learning_rate"] == pytest.approx(2e-3)

    # resume=False starts over
    fresh = _model()
    result = training.fit(fresh, _dataset(images), tmp_path, epochs=1, resume=False, verbose=0)
    assert result.initial_epoch == 0 and len(result.history["loss"]) == 1


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_epoch(tmp_path, images):
    model = _model()
    with pytest.raises(training.TrainingDivergedError, match="learning_rate") as error:
        training.fit(
            model,
            _dataset(images),
            tmp_path,
            epochs=5,
            verbose=0,
            callbacks=[_PoisonWeights(at=2)],
        )
    message = str(error.value)
    assert "epoch 3" in message and "last finite epoch (2)" in message
    # nothing of the NaN epoch was checkpointed; the model is back at epoch 2
    assert all(np.isfinite(weight).all() for weight in _weights(model))
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["stopped_by"] == "nan" and state["epochs_completed"] == 2
    last = keras.saving.load_model(tmp_path / training.LAST_MODEL, safe_mode=True)
    assert all(np.isfinite(np.asarray(weight)).all() for weight in last.weights)


def test_logs_checkpoints_and_early_stopping(tmp_path, images):
    model = _model()
    result = training.fit(
        model,
        _dataset(images),
        tmp_path,
        epochs=3,
        validation_data=_dataset(images),
        lr_schedule="plateau",
        verbose=0,
    )
    log = (tmp_path / training.CSV_LOG).read_text().splitlines()
    assert len(log) == 4  # header + 3 epochs
    for column in ("loss", "reconstruction_loss", "quantizer_loss", "perplexity",
                   "codebook_usage", "val_loss", "learning_rate"):  # fmt: skip
        assert column in log[0].split(","), column
    for name in (training.BEST_MODEL, training.LAST_MODEL):
        loaded = keras.saving.load_model(tmp_path / name, safe_mode=True)
        assert loaded.num_embeddings == TINY["num_embeddings"]
    assert (tmp_path / training.BACKUP_DIR / "latest.weights.h5").exists()
    assert result.history["val_loss"] and np.isfinite(result.history["val_loss"]).all()

    # a (gradient-trained) model that cannot improve at a learning rate of 1e-9:
    # with patience 1 it stops after its second epoch
    stopper = _model(quantizer="standard")
    result = training.fit(
        stopper,
        _dataset(images),
        tmp_path / "early",
        epochs=6,
        validation_data=_dataset(images),
        early_stopping_patience=1,
        learning_rate=1e-9,
        verbose=0,
    )
    assert result.stopped_by == "early_stopping" and result.epochs_completed < 6
    # re-running with the same epochs does not train on after early stopping
    rerun = training.fit(
        _model(quantizer="standard"), _dataset(images), tmp_path / "early", epochs=6, verbose=0
    )
    assert rerun.stopped_by == "already_done"


def test_time_budget_stops_after_a_whole_epoch(tmp_path, images):
    model = _model()
    result = training.fit(
        model, _dataset(images), tmp_path, epochs=20, max_train_minutes=1e-5, verbose=0
    )
    assert result.stopped_by == "time_budget"
    assert result.epochs_completed == 1  # stopped after the first epoch, nothing lost
    # re-running continues from there
    result = training.fit(
        _model(), _dataset(images), tmp_path, epochs=20, max_train_minutes=1e-5, verbose=0
    )
    assert result.initial_epoch == 1 and result.epochs_completed == 2


def test_brain_crops_are_centred_in_the_brain():
    images = np.zeros((6, 64, 64, 1), np.float32)
    images[:, 40:50, 10:20] = 1.0  # a small "brain" off-centre
    images[5] = 0.0  # no brain: the centre crop
    batches = list(training.brain_crops(_dataset(images), crop_size=16, batch_size=3, seed=1))
    assert [tuple(batch.shape) for batch in batches] == [(3, 16, 16, 1)] * 2
    crops = np.concatenate(batches)
    assert (crops[:5].mean(axis=(1, 2, 3)) > 0.2).all()  # every crop holds brain
    assert crops[5].max() == 0.0
    again = np.concatenate(list(training.brain_crops(_dataset(images), 16, 3, seed=1)))
    np.testing.assert_array_equal(crops, again)  # seeded


def test_cosine_schedule_values():
    schedule = training.CosineSchedule(peak=1e-3, epochs=10, final_fraction=0.1)
    assert schedule.rate(0, 0, 100) == pytest.approx(1e-3)
    assert schedule.rate(5, 0, 100) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert schedule.rate(10, 0, 100) == pytest.approx(1e-4)
    # time progress wins when it is ahead of the epochs
    assert schedule.rate(1, 0, 100, elapsed_fraction=1.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="positive"):
        training.CosineSchedule(peak=0.0, epochs=3)


def test_invalid_arguments(tmp_path, images):
    model = _model()
    with pytest.raises(ValueError, match="epochs"):
        training.fit(model, _dataset(images), tmp_path, epochs=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        training.fit(model, _dataset(images), tmp_path, epochs=1, lr_schedule="step")
    with pytest.raises(ValueError, match="max_train_minutes"):
        training.fit(model, _dataset(images), tmp_path, epochs=1, max_train_minutes=0)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    from oasis_helpers import training

    config = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (16, 32, 32, 1)).astype("float32")

    def run(strategy, run_dir):
        keras.utils.set_random_seed(0)
        model = training.make_vqvae(strategy, learning_rate=1e-3, **config)
        data = tf.data.Dataset.from_tensor_slices(images).batch(8)
        if strategy is not None:
            data = strategy.experimental_distribute_dataset(data)
        result = training.fit(model, data, run_dir, epochs=2, lr_schedule=None, verbose=0)
        return result.history["loss"], [float(np.abs(np.asarray(w)).sum()) for w in model.weights]

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two_loss, two_weights = run(strategy, sys.argv[2] + "/two")
    one_loss, one_weights = run(None, sys.argv[2] + "/one")
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "two_loss": two_loss, "one_loss": one_loss,
        "two_weights": two_weights, "one_weights": one_weights,
    }))
    """
)


def test_two_logical_cpu_devices_with_mirrored_strategy(tmp_path):
    # no data initialisation or restarts: they draw from each replica's half batch,
    # so only this configuration is comparable with one device step for step
    config = dict(TINY, quantizer_options={"init": None, "dead_code_steps": None, "seed": 1})
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, json.dumps(config), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert np.isfinite(result["two_loss"]).all()
    # two replicas of half a batch each make the same updates as one device
    np.testing.assert_allclose(result["two_loss"], result["one_loss"], rtol=1e-3)
    np.testing.assert_allclose(result["two_weights"], result["one_weights"], rtol=1e-3)


def test_history_figure_and_live_plot(tmp_path, images):
    import matplotlib

    matplotlib.use("Agg")
    history = {
        "loss": [0.1, 0.05],
        "val_loss": [0.12, 0.06],
        "perplexity": [3.0, 5.0],
        "learning_rate": [1e-3, 1e-4],
    }
    figure = training.plot_history(history)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["total loss", "perplexity", "learning rate"]
    assert len(figure.axes[0].lines) == 2  # train and validation
    # the live plot redraws after every epoch and keeps the earlier history
    live = training.LivePlot(previous={"loss": [0.2]})
    training.fit(_model(), _dataset(images), tmp_path, epochs=2, verbose=0, callbacks=[live])
    assert len(live.history["loss"]) == 3
