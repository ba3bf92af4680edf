"""Training that survives faults and knows what it resumes.

Resume after an interruption, continue with more epochs, refuse to resume another
configuration, NaN stops with a clear message, logs, checkpoints that survive
SIGKILL in the middle of a write, both branches of the time budget, the compiled
(graph-mode) path with k-means++ initialisation and dead-code restarts, and two
replicas.

Tiny models (16-32 px). The file mechanics are tested eagerly (no graph tracing:
fast); the VQ-VAE training that users run (``make run``, GPUs) is tested in graph
mode, as ``model.fit`` runs it by default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import oasis_fixtures as fx
import pytest
import tensorflow as tf

from oasis_helpers import callbacks, data, models, parameters, plots, training
from oasis_helpers import metrics as metrics_module
from oasis_helpers import quantizer as quantizer_module

TINY = {
    **fx.TINY_VQVAE,
    # deterministic quantizer: fixed seed for its data initialisation
    "quantizer_options": {"seed": 7},
}
#: An even smaller model for the graph-mode tests (tracing cost grows with the layers).
GRAPH_TINY = {
    "image_size": 16,
    "channels": (8, 8),
    "num_residual_blocks": 1,
    "residual_channels": 4,
    "num_embeddings": 32,
    "embedding_dim": 4,
    "quantizer": "ema",
    "dead_code_steps": 2,
    "quantizer_options": {"init": "kmeans++", "seed": 3},
}
ROOT = Path(__file__).resolve().parent.parent
SUBPROCESS_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def _disks(count: int, size: int, seed: int = 0) -> np.ndarray:
    """``count`` bright disks of random intensity and radius on black, float32 [N, S, S, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    radius = rng.uniform(0.2, 0.4, (count, 1, 1)) * size
    disk = ((rows - size / 2) ** 2 + (cols - size / 2) ** 2 < radius**2).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (count, 1, 1)))[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def images():
    return _disks(16, 32)


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


# ---------------------------------------------------------------------------------------------
# Resume
# ---------------------------------------------------------------------------------------------
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
    # the two newest backups are kept (the second is the fallback), each complete
    assert callbacks.backup_epochs(tmp_path / "run" / training.BACKUP_DIR) == [3, 4]


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


SETTINGS = {"data_dir": None, "crop_size": 32, "batch_size": 8, "seed": 42, "epochs": 1}


@pytest.mark.parametrize(
    ("model_change", "settings_change", "named"),
    [
        # structural: another number of variables / shapes (Keras would fail opaquely)
        ({"num_embeddings": 32}, {}, "model.num_embeddings: 16 -> 32"),
        # non-structural: the old weights would load silently and be reported as done
        ({"commitment_cost": 0.5}, {}, "model.commitment_cost: 0.25 -> 0.5"),
        ({}, {"seed": 7}, "settings.seed: 42 -> 7"),
        ({}, {"crop_size": 16}, "settings.crop_size: 32 -> 16"),
    ],
)
def test_resuming_another_configuration_is_refused_before_anything_loads(
    tmp_path, images, model_change, settings_change, named
):
    training.fit(_model(), _dataset(images), tmp_path, epochs=1, settings=SETTINGS, verbose=0)
    stored = json.loads((tmp_path / training.RUN_CONFIG).read_text())
    assert stored["model"]["num_embeddings"] == 16 and stored["settings"]["crop_size"] == 32
    assert "epochs" not in stored["settings"]  # may grow between calls

    changed = _model(seed=9, **model_change)
    before = _weights(changed)
    with pytest.raises(training.ConfigMismatchError) as error:
        training.fit(
            changed,
            _dataset(images),
            tmp_path,
            epochs=2,  # more epochs: without the check this would continue the old run
            settings=dict(SETTINGS, **settings_change),
            verbose=0,
        )
    message = str(error.value)
    assert named in message, message
    assert "resume=False" in message and "config_run_dir" in message
    assert len(error.value.differences) == 1
    assert isinstance(error.value, ValueError)
    for mine, theirs in zip(_weights(changed), before, strict=True):  # nothing was loaded
        np.testing.assert_array_equal(mine, theirs)

    # resume=False starts this configuration over in the same folder
    result = training.fit(
        changed,
        _dataset(images),
        tmp_path,
        epochs=1,
        settings=dict(SETTINGS, **settings_change),
        resume=False,
        verbose=0,
    )
    assert result.initial_epoch == 0 and result.epochs_completed == 1


def test_same_configuration_resumes_and_config_run_dir_keys_folders(tmp_path, images):
    config = dict(TINY)
    folder = training.config_run_dir(tmp_path, config, SETTINGS)
    assert folder.parent == tmp_path and len(folder.name) == 8
    assert json.loads((folder / training.CONFIG_FILE).read_text())["model"]["num_embeddings"] == 16
    # the same configuration (also with other epochs / budget) keeps its folder ...
    assert training.config_run_dir(tmp_path, dict(TINY), dict(SETTINGS, epochs=9)) == folder
    assert training.config_run_dir(tmp_path, config, dict(SETTINGS, max_train_minutes=3)) == folder
    # ... another configuration gets another one
    others = {
        training.config_run_dir(tmp_path, dict(TINY, num_embeddings=32), SETTINGS),
        training.config_run_dir(tmp_path, dict(TINY, commitment_cost=0.5), SETTINGS),
        training.config_run_dir(tmp_path, config, dict(SETTINGS, seed=1)),
        training.config_run_dir(tmp_path, config, dict(SETTINGS, crop_size=16)),
    }
    assert len(others) == 4 and folder not in others

    first = training.fit(_model(), _dataset(images), folder, epochs=1, settings=SETTINGS, verbose=0)
    assert first.epochs_completed == 1
    # a raised epochs (and a budget) in the settings continue the same run
    result = training.fit(
        _model(seed=3),
        _dataset(images),
        folder,
        epochs=2,
        settings=dict(SETTINGS, epochs=2, max_train_minutes=30),
        verbose=0,
    )
    assert result.initial_epoch == 1 and result.epochs_completed == 2
    assert (folder / training.CONFIG_FILE).exists()  # fit leaves config_run_dir's file alone


def test_a_backup_without_a_recorded_configuration_is_refused(tmp_path, images):
    # the layout of keras.callbacks.BackupAndRestore, written by older versions
    (tmp_path / training.BACKUP_DIR).mkdir()
    (tmp_path / training.BACKUP_DIR / "training_metadata.json").write_text('{"epoch": 3}')
    with pytest.raises(training.ConfigMismatchError, match="older version.*resume=False"):
        training.fit(_model(), _dataset(images), tmp_path, epochs=5, verbose=0)


def test_an_unreadable_newest_backup_falls_back_to_the_one_before(tmp_path, images):
    training.fit(_model(), _dataset(images), tmp_path, epochs=2, verbose=0)
    newest = tmp_path / training.BACKUP_DIR / "epoch-00002" / callbacks.BACKUP_WEIGHTS
    newest.write_bytes(newest.read_bytes()[:1000])  # a disk error: a truncated file
    model = _model(seed=4)
    with pytest.warns(UserWarning, match="epoch 1"):
        result = training.fit(model, _dataset(images), tmp_path, epochs=3, verbose=0)
    assert result.initial_epoch == 1 and result.epochs_completed == 3
    assert result.history["epoch"] == [0, 1, 2]
    assert int(model.optimizer.iterations.numpy()) == 6


# ---------------------------------------------------------------------------------------------
# NaN, logs, checkpoints, early stopping
# ---------------------------------------------------------------------------------------------
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
    # nothing of the NaN epoch was recorded; the model is back at epoch 2
    assert all(np.isfinite(weight).all() for weight in _weights(model))
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["stopped_by"] == "nan" and state["epochs_completed"] == 2
    assert len(training.read_history(tmp_path)["loss"]) == 2
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
    metrics = [metric.name for metric in model.metrics]  # loss, ..., batch_perplexity, ...
    for column in [*metrics, *(f"val_{name}" for name in metrics), "learning_rate"]:
        assert column in log[0].split(","), column
    for name in (training.BEST_MODEL, training.LAST_MODEL):
        loaded = keras.saving.load_model(tmp_path / name, safe_mode=True)
        assert loaded.num_embeddings == TINY["num_embeddings"]
    assert (tmp_path / training.BACKUP_DIR / "epoch-00003" / callbacks.BACKUP_WEIGHTS).exists()
    assert not list(tmp_path.glob(".*partial*"))  # no temporary files left behind
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


# ---------------------------------------------------------------------------------------------
# The time budget (a fake clock: each training step "takes" a set number of seconds)
# ---------------------------------------------------------------------------------------------
class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _StepTakes(keras.callbacks.Callback):
    """Advances the fake clock by ``seconds[epoch]`` at every training step."""

    def __init__(self, clock: _FakeClock, seconds: dict[int, float]):
        super().__init__()
        self.clock, self.seconds, self.epoch = clock, seconds, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.seconds.get(self.epoch, 10.0)


def test_time_budget_stops_after_the_last_epoch_predicted_to_fit(tmp_path, images, monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(callbacks.TimeBudget, "clock", staticmethod(clock))
    # 2 steps of 10 s per epoch, a budget of 45 s: after epoch 1 (20 s) another epoch
    # fits (40 s); after epoch 2 a third would end at 60 s: stop, with 2 whole epochs
    with pytest.warns(training.BudgetStopWarning, match="after 2 of 20 epochs"):
        result = training.fit(
            _model(),
            _dataset(images),
            tmp_path,
            epochs=20,
            max_train_minutes=45 / 60,
            verbose=0,
            callbacks=[_StepTakes(clock, {})],
        )
    assert result.stopped_by == "time_budget"
    assert result.epochs_completed == 2 and result.extra["partial_epoch_steps"] == 0
    assert result.history["epoch"] == [0, 1]
    assert callbacks.backup_epochs(tmp_path / training.BACKUP_DIR) == [1, 2]
    # re-running continues from there
    result = training.fit(
        _model(),
        _dataset(images),
        tmp_path,
        epochs=20,
        max_train_minutes=45 / 60,
        verbose=0,
        callbacks=[_StepTakes(clock, {})],
    )
    assert result.initial_epoch == 2 and result.epochs_completed == 4


def test_time_budget_spent_mid_epoch_does_not_count_the_partial_epoch(
    tmp_path, images, monkeypatch
):
    clock = _FakeClock()
    monkeypatch.setattr(callbacks.TimeBudget, "clock", staticmethod(clock))
    # epoch 1 takes 2 x 10 s (another such epoch fits in 45 s), but epoch 2's steps
    # take 30 s: the budget is spent after its first step of two
    model = _model()
    result = training.fit(
        model,
        _dataset(images),
        tmp_path,
        epochs=20,
        max_train_minutes=45 / 60,
        verbose=0,
        callbacks=[_StepTakes(clock, {0: 10.0, 1: 30.0})],
    )
    assert result.stopped_by == "time_budget"
    assert result.epochs_completed == 1 and result.extra["partial_epoch_steps"] == 1
    assert int(model.optimizer.iterations.numpy()) == 3  # the model keeps its last step
    assert result.history["epoch"] == [0]  # the partial epoch is not logged ...
    assert callbacks.backup_epochs(tmp_path / training.BACKUP_DIR) == [1]  # ... nor backed up
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["epochs_completed"] == 1 and state["partial_epoch_steps"] == 1

    # a resumed run redoes the partial epoch from the last finished one
    resumed = _model(seed=2)
    result = training.fit(resumed, _dataset(images), tmp_path, epochs=2, verbose=0)
    assert result.initial_epoch == 1 and result.epochs_completed == 2
    assert int(resumed.optimizer.iterations.numpy()) == 4
    assert result.history["epoch"] == [0, 1]


# ---------------------------------------------------------------------------------------------
# The compiled path users run: EMA, k-means++ initialisation, dead-code restarts
# ---------------------------------------------------------------------------------------------
def test_graph_mode_training_initialises_once_restarts_codes_and_learns(tmp_path, monkeypatch):
    # count the k-means++ runs inside the compiled train step (a variable, not Python)
    initialisations = tf.Variable(0, dtype=tf.int64, trainable=False)
    original = quantizer_module.kmeans_plus_plus

    def counted(*args, **kwargs):
        initialisations.assign_add(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(quantizer_module, "kmeans_plus_plus", counted)
    batches = _dataset(_disks(32, 16, seed=1))  # 4 steps per epoch

    keras.utils.set_random_seed(0)
    model = models.make_vqvae(learning_rate=3e-3, **GRAPH_TINY)
    assert not model.run_eagerly
    result = training.fit(model, batches, tmp_path, epochs=3, lr_schedule=None, verbose=0)
    assert result.epochs_completed == 3
    assert int(initialisations.numpy()) == 1  # on the first step only
    assert int(np.asarray(model.quantizer.initialized)) == 1
    restarts = model.quantizer.dead_codes_restarted
    assert restarts > 0
    losses = result.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]

    # a resumed run (a new model object, traced anew) does not initialise again, and
    # its restart count continues from the checkpoint
    keras.utils.set_random_seed(1)
    resumed = models.make_vqvae(learning_rate=3e-3, **GRAPH_TINY)
    result = training.fit(resumed, batches, tmp_path, epochs=5, lr_schedule=None, verbose=0)
    assert result.initial_epoch == 3 and result.epochs_completed == 5
    assert int(initialisations.numpy()) == 1
    assert resumed.quantizer.dead_codes_restarted >= restarts
    assert result.history["loss"][-1] < result.history["loss"][0]


# ---------------------------------------------------------------------------------------------
# SIGKILL while a checkpoint is being written
# ---------------------------------------------------------------------------------------------
KILL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import keras
    import numpy as np
    import tensorflow as tf
    from oasis_helpers import callbacks, models, training

    run_dir, epochs, kill_file, kill_folder = sys.argv[1:5]
    marker = Path(run_dir).parent / "writing"
    original_fsync = callbacks.sync_to_disk

    def slow_fsync(path):
        # the moment a checkpoint file is written but not yet renamed into place:
        # cut it in half (as if killed mid-write), say so, and wait to be killed
        path = Path(path)
        if path.name == kill_file and path.parent.name == kill_folder and path.is_file():
            with path.open("r+b") as handle:
                handle.truncate(path.stat().st_size // 2)
            marker.write_text(str(path))
            time.sleep(600)
        original_fsync(path)

    callbacks.sync_to_disk = slow_fsync
    config = json.loads(sys.argv[5])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (16, 16, 16, 1)).astype("float32")
    keras.utils.set_random_seed(int(sys.argv[6]))
    model = models.make_vqvae(learning_rate=1e-3, **config)  # graph mode
    data = tf.data.Dataset.from_tensor_slices(images).batch(8)
    result = training.fit(model, data, run_dir, epochs=int(epochs), lr_schedule=None, verbose=0)
    print(json.dumps({
        "initial_epoch": result.initial_epoch,
        "epochs_completed": result.epochs_completed,
        "history_epochs": result.history["epoch"],
        "iterations": int(model.optimizer.iterations.numpy()),
        "loss": result.history["loss"],
    }))
    """
)


def _kill_script(run_dir: Path, kill_file: str, kill_folder: str, seed: int) -> list[str]:
    """The command that trains GRAPH_TINY for 5 epochs, stopping in ``kill_folder/kill_file``."""
    arguments = [str(run_dir), "5", kill_file, kill_folder, json.dumps(GRAPH_TINY), str(seed)]
    return [sys.executable, "-c", KILL_SCRIPT, *arguments]


def _train_and_kill(run_dir: Path, kill_file: str, kill_folder: str, seed: int) -> None:
    """Start a training process and SIGKILL it while it writes ``kill_folder/kill_file``."""
    marker = run_dir.parent / "writing"
    marker.unlink(missing_ok=True)
    process = subprocess.Popen(
        _kill_script(run_dir, kill_file, kill_folder, seed),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=SUBPROCESS_ENV,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 240
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    _, stderr = process.communicate()
    assert alive and marker.exists(), stderr.decode()[-3000:]
    assert process.returncode == -signal.SIGKILL


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_last_good_epoch(tmp_path):
    run_dir = tmp_path / "run"
    backup = run_dir / training.BACKUP_DIR
    # 1. killed while writing the backup of epoch 3 (its weights half written)
    _train_and_kill(run_dir, callbacks.BACKUP_WEIGHTS, ".partial-epoch-00003", seed=0)
    assert callbacks.backup_epochs(backup) == [1, 2]
    # 2. resumed from epoch 2, killed while writing last.keras after epoch 3 (again)
    _train_and_kill(run_dir, ".last.partial.keras", run_dir.name, seed=1)
    assert callbacks.backup_epochs(backup) == [1, 2]
    # the log holds the backed-up epochs only (the first run's row of epoch 3 was dropped)
    assert training.read_history(run_dir)["epoch"] == [0, 1]
    # the previous last.keras (the first run's epoch 3) is intact
    last = keras.saving.load_model(run_dir / training.LAST_MODEL, safe_mode=True)
    assert last.num_embeddings == GRAPH_TINY["num_embeddings"]
    # 3. resumed from epoch 2, it finishes
    completed = subprocess.run(
        _kill_script(run_dir, "-", "-", seed=2),
        capture_output=True,
        text=True,
        timeout=300,
        env=SUBPROCESS_ENV,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["initial_epoch"] == 2 and result["epochs_completed"] == 5
    assert result["history_epochs"] == [0, 1, 2, 3, 4]  # each epoch logged once
    assert result["iterations"] == 10  # 5 epochs x 2 steps: no step lost or repeated
    assert np.isfinite(result["loss"]).all()
    assert callbacks.backup_epochs(backup) == [4, 5]
    assert not list(backup.glob(".partial*"))


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------
def test_brain_crops_are_centred_in_the_brain():
    images = np.zeros((6, 64, 64, 1), np.float32)
    images[:, 40:50, 10:20] = 1.0  # a small "brain" off-centre
    images[5] = 0.0  # no brain: the centre crop
    batches = list(data.brain_crops(_dataset(images), crop_size=16, batch_size=3, seed=1))
    assert [tuple(batch.shape) for batch in batches] == [(3, 16, 16, 1)] * 2
    crops = np.concatenate(batches)
    assert (crops[:5].mean(axis=(1, 2, 3)) > 0.2).all()  # every crop holds brain
    assert crops[5].max() == 0.0
    again = np.concatenate(list(data.brain_crops(_dataset(images), 16, 3, seed=1)))
    np.testing.assert_array_equal(crops, again)  # seeded


def test_cosine_schedule_values():
    schedule = callbacks.CosineSchedule(peak=1e-3, epochs=10, final_fraction=0.1)
    assert schedule.rate(0, 0, 100) == pytest.approx(1e-3)
    assert schedule.rate(5, 0, 100) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert schedule.rate(10, 0, 100) == pytest.approx(1e-4)
    # time progress wins when it is ahead of the epochs
    assert schedule.rate(1, 0, 100, elapsed_fraction=1.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="positive"):
        callbacks.CosineSchedule(peak=0.0, epochs=3)


def test_default_training_settings_pass_notebook_03s_checks():
    """The defaults notebook 03 reads are values its parameter check accepts."""
    settings = training.DEFAULT_TRAINING
    checked = parameters.check(image_size=models.DEFAULT_CONFIG["image_size"], **settings)
    assert {name: checked[name] for name in settings} == settings


def test_invalid_arguments(tmp_path, images):
    model = _model()
    with pytest.raises(ValueError, match="epochs"):
        training.fit(model, _dataset(images), tmp_path, epochs=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        training.fit(model, _dataset(images), tmp_path, epochs=1, lr_schedule="step")
    with pytest.raises(ValueError, match="max_train_minutes"):
        training.fit(model, _dataset(images), tmp_path, epochs=1, max_train_minutes=0)
    with pytest.raises(ValueError, match="settings"):
        training.fit(model, _dataset(images), tmp_path, epochs=1, settings=[("seed", 1)])


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
    from oasis_helpers import models, training

    comparable, restarting = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (16, 32, 32, 1)).astype("float32")
    # one disk on black, 16 times: far fewer distinct vectors than codes, so at every
    # step most codes go unused (and are restarted)
    rows, cols = np.mgrid[:32, :32]
    disk = (((rows - 16) ** 2 + (cols - 16) ** 2) < 64).astype("float32")[None, :, :, None]
    disks = np.repeat(disk * 0.6, 16, axis=0).astype("float32")

    def run(strategy, run_dir, config, images=images):
        keras.utils.set_random_seed(0)
        model = models.make_vqvae(strategy, learning_rate=1e-3, **config)
        data = tf.data.Dataset.from_tensor_slices(images).batch(8)
        if strategy is not None:
            data = strategy.experimental_distribute_dataset(data)
        result = training.fit(model, data, run_dir, epochs=2, lr_schedule=None, verbose=0)
        return model, result

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two, two_result = run(strategy, sys.argv[3] + "/two", comparable)
    one, one_result = run(None, sys.argv[3] + "/one", comparable)
    restarted, restarted_result = run(strategy, sys.argv[3] + "/restarts", restarting, disks)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "two_loss": two_result.history["loss"], "one_loss": one_result.history["loss"],
        "two_weights": [float(np.abs(np.asarray(w)).sum()) for w in two.weights],
        "one_weights": [float(np.abs(np.asarray(w)).sum()) for w in one.weights],
        "restarts": restarted.quantizer.dead_codes_restarted,
        "initialized": int(np.asarray(restarted.quantizer.initialized)),
        "usage": restarted_result.history["batch_codebook_usage"],
        "steps": int(restarted.optimizer.iterations.numpy()),
        "num_embeddings": restarted.num_embeddings,
    }))
    """
)


def test_two_logical_cpu_devices_with_mirrored_strategy(tmp_path):
    # no data initialisation or restarts: they draw from each replica's half batch,
    # so only this configuration is comparable with one device step for step
    comparable = dict(TINY, dead_code_steps=None, quantizer_options={"init": None, "seed": 1})
    # restarts of codes unused for a single step: at each step every code the global
    # batch does not use is restarted, so the count follows from the logged usage
    restarting = dict(
        TINY,
        num_embeddings=256,
        dead_code_steps=1,
        quantizer_options={"init": "kmeans++", "seed": 1},
    )
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, *map(json.dumps, (comparable, restarting))]
        + [str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=SUBPROCESS_ENV,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert np.isfinite(result["two_loss"]).all()
    # two replicas of half a batch each make the same updates as one device
    np.testing.assert_allclose(result["two_loss"], result["one_loss"], rtol=1e-3)
    np.testing.assert_allclose(result["two_weights"], result["one_weights"], rtol=1e-3)
    # restarts are counted once per code and step, not once per replica
    steps_per_epoch = result["steps"] // len(result["usage"])
    codes = result["num_embeddings"]
    unused = sum(steps_per_epoch * codes * (1.0 - usage) for usage in result["usage"])
    assert result["initialized"] == 1
    assert result["restarts"] > 0
    assert result["restarts"] == round(unused)


def test_history_figure_and_live_plot(tmp_path, images):
    import matplotlib

    matplotlib.use("Agg")
    history = {
        "loss": [0.1, 0.05],
        "val_loss": [0.12, 0.06],
        "batch_perplexity": [3.0, 5.0],
        "learning_rate": [1e-3, 1e-4],
    }
    figure = plots.plot_history(history)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["total loss", "perplexity (mean over batches)", "learning rate"]
    assert len(figure.axes[0].lines) == 2  # train and validation
    # the live plot redraws after every epoch and keeps the earlier history
    live = plots.LivePlot(previous={"loss": [0.2]})
    training.fit(_model(), _dataset(images), tmp_path, epochs=2, verbose=0, callbacks=[live])
    assert len(live.history["loss"]) == 3


# ---------------------------------------------------------------------------------------------
# A run's settings: trained with (fit_with_settings) and reported (vqvae_summary)
# ---------------------------------------------------------------------------------------------
def test_fit_with_settings_trains_with_the_settings_the_run_is_filed_under(tmp_path, images):
    settings = dict(SETTINGS, epochs=2, steps_per_epoch=1, batch_size=8, learning_rate=1e-3)
    folder = training.config_run_dir(tmp_path, TINY, settings)
    result = training.fit_with_settings(_model(), _dataset(images).repeat(), folder, settings)
    assert result.epochs_completed == 2 and result.stopped_by == "epochs"
    assert result.images_seen == 2 * 1 * 8  # epochs x steps_per_epoch x batch_size
    state = json.loads((folder / training.STATE_FILE).read_text())
    assert state["peak_learning_rate"] == pytest.approx(1e-3)
    recorded = json.loads((folder / training.RUN_CONFIG).read_text())["settings"]
    assert recorded["steps_per_epoch"] == 1 and "epochs" not in recorded  # epochs may grow
    # more epochs in the settings continue the same run, in the same folder
    more = dict(settings, epochs=3)
    assert training.config_run_dir(tmp_path, TINY, more) == folder
    again = training.fit_with_settings(_model(), _dataset(images).repeat(), folder, more)
    assert (again.initial_epoch, again.epochs_completed) == (2, 3)

    with pytest.raises(
        ValueError, match=r"lack the training settings \['steps_per_epoch', 'learning_rate'\]"
    ):
        training.fit_with_settings(_model(), _dataset(images), folder, SETTINGS)
    with pytest.raises(ValueError, match=r"\['batch_size'\] come from settings"):
        training.fit_with_settings(_model(), _dataset(images), folder, settings, batch_size=4)


#: The keys of notebook 03's metrics.json (tests/test_notebooks.py and the README read them).
NOTEBOOK_03_METRICS = {
    *("layout", "image_size", "ssim_test", "ssim_brain_test", "psnr_test", "psnr_brain_test"),
    *("ssim_test_reloaded", "test_slices", "code_perplexity_test", "codebook_usage_test"),
    *("codebook_usage_train", "epochs", "resumed_from_epoch", "stopped_by"),
    *("train_loss_by_epoch", "train_seconds", "train_seconds_this_run", "train_images"),
    *("train_images_per_second", "train_crops_per_second", "training_folder", "crop_size"),
    *("max_train_minutes", "epochs_requested", "steps_per_epoch", "batch_size"),
    *("learning_rate", "validation_slices", "num_embeddings", "embedding_dim"),
    *("commitment_cost", "quantizer", "ema_decay", "dead_code_steps", "downsample"),
    *("channels", "num_residual_blocks", "residual_channels", "parameters", "code_grid"),
    *("bits_per_slice", "pixel_bits_per_slice", "strategy", "replicas", "precision"),
    *("smoke", "seed"),
}


def _fit_result(**values) -> training.FitResult:
    fields = {
        "run_dir": Path("unused"),
        "history": {"loss": [0.3, 0.1]},
        "epochs_completed": 2,
        "initial_epoch": 1,
        "stopped_by": "epochs",
        "train_seconds": 5.0,
        "images_seen": 40,
        "images_per_second": 8.0,
        "total_train_seconds": 12.0,
        "total_images_seen": 80,
        "resumed": True,
    }
    return training.FitResult(**dict(fields, **values))


def test_vqvae_summary_has_notebook_03s_keys_computed_from_the_run():
    model_config = dict(TINY, quantizer="standard", downsample=4, commitment_cost=0.5)
    model_config.update(ema_decay=0.9, dead_code_steps=None)
    model = _model(**model_config)
    settings = dict(SETTINGS, layout="demo", image_size=32, crop_size=16, batch_size=4)
    settings.update(steps_per_epoch=10, learning_rate=1e-3, validation_slices=8, epochs=5)
    settings.update(max_train_minutes=None, precision="float32", smoke=True)
    evaluation = {"ssim": 0.9, "ssim_brain": 0.8, "psnr": 30.0, "psnr_brain": 25.0}
    evaluation["per_slice"] = {"ssim": np.full(6, 0.9)}
    codes = {
        "train": metrics_module.code_statistics(np.array([[0, 1, 2, 3]]), 16),
        "test": metrics_module.code_statistics(np.array([[0, 0, 0, 1]]), 16),
    }
    summary = training.vqvae_summary(
        model, model_config, settings, _fit_result(), evaluation, codes, 0.89, "training/abc"
    )
    assert set(summary) == NOTEBOOK_03_METRICS
    # a 16x16 crop of a 32x32 slice is a quarter slice: 80 crops are 20 slices' worth
    assert summary["train_images"] == 80 * (4 * 16**2 / 32**2) / 4 == 20.0
    assert summary["train_images_per_second"] == 2.0 and summary["train_crops_per_second"] == 8.0
    assert summary["bits_per_slice"] == 8 * 8 * 4 and summary["pixel_bits_per_slice"] == 32**2 * 8
    assert summary["code_grid"] == [8, 8] and summary["channels"] == [8, 16]
    assert summary["ema_decay"] is None  # a standard quantizer has no decay
    assert summary["epochs_requested"] == 5 and summary["epochs"] == 2
    assert summary["resumed_from_epoch"] == 1 and summary["train_loss_by_epoch"] == [0.3, 0.1]
    assert (summary["train_seconds"], summary["train_seconds_this_run"]) == (12.0, 5.0)
    assert summary["test_slices"] == 6 and summary["ssim_test_reloaded"] == 0.89
    assert summary["code_perplexity_test"] == codes["test"]["code_perplexity"]
    assert (summary["codebook_usage_train"], summary["codebook_usage_test"]) == (0.25, 0.125)
    assert summary["training_folder"] == "training/abc" and summary["commitment_cost"] == 0.5
    assert summary["parameters"] == model.count_params()
    assert (summary["strategy"], summary["replicas"]) == ("_DefaultDistributionStrategy", 1)

    whole_slices = dict(settings, crop_size=None)
    ema = dict(model_config, quantizer="ema")
    summary = training.vqvae_summary(
        model, ema, whole_slices, _fit_result(), evaluation, codes, 0.89, "training/abc"
    )
    assert summary["train_images"] == 80.0 and summary["train_crops_per_second"] is None
    assert summary["ema_decay"] == 0.9
