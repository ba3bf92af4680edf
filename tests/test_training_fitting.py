"""Training that survives faults: :func:`oasis_helpers.training.fit`.

Resume after an interruption, continue with more epochs, NaN stops with a clear
message, logs, checkpoints that survive SIGKILL in the middle of a write, both
branches of the time budget, the compiled (graph-mode) path with k-means++
initialisation and dead-code restarts, and two replicas.

Tiny models (``oasis_fixtures.training_vqvae``). The file mechanics are tested eagerly (no
graph tracing: fast); the VQ-VAE training that users run (``make run``, GPUs) is tested in
graph mode, as ``model.fit`` runs it by default.
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

from oasis_helpers import callbacks, models, training
from oasis_helpers.quantizer import layer as quantizer_layer

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
def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path, disks):
    reference = fx.training_vqvae()
    training.fit(reference, fx.batches(disks), tmp_path / "reference", epochs=4, verbose=0)

    interrupted = fx.training_vqvae()
    with pytest.raises(KeyboardInterrupt):
        training.fit(
            interrupted,
            fx.batches(disks),
            tmp_path / "run",
            epochs=4,
            verbose=0,
            callbacks=[_Interrupt(at=2)],
        )
    assert len(training.read_history(tmp_path / "run")["loss"]) == 2

    # a new process would build a fresh model: the checkpoint brings it back
    resumed = fx.training_vqvae(
        seed=123
    )  # different initial weights, overwritten by the checkpoint
    result = training.fit(resumed, fx.batches(disks), tmp_path / "run", epochs=4, verbose=0)
    assert result.resumed and result.initial_epoch == 2 and result.epochs_completed == 4
    assert result.history["epoch"] == [0, 1, 2, 3]
    assert int(resumed.optimizer.iterations.numpy()) == 8  # 4 epochs x 2 steps, none repeated
    for mine, theirs in zip(fx.weights_of(resumed), fx.weights_of(reference), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    # the two newest backups are kept (the second is the fallback), each complete
    assert callbacks.backup_epochs(tmp_path / "run" / training.BACKUP_DIR) == [3, 4]


def test_rerun_restores_and_larger_epochs_continue(tmp_path, disks):
    first = fx.training_vqvae()
    result = training.fit(first, fx.batches(disks), tmp_path, epochs=2, batch_size=8, verbose=0)
    assert result.stopped_by == "epochs" and result.epochs_completed == 2
    assert result.images_seen == 32 and result.images_per_second > 0

    # the same call again trains nothing and restores the trained weights
    again = fx.training_vqvae(seed=5)
    result = training.fit(again, fx.batches(disks), tmp_path, epochs=2, verbose=0)
    assert result.stopped_by == "already_done" and result.images_seen == 0
    for mine, theirs in zip(fx.weights_of(again), fx.weights_of(first), strict=True):
        np.testing.assert_array_equal(mine, theirs)

    # a larger epochs trains only the extra epochs, from the checkpoint
    more = fx.training_vqvae(seed=6)
    result = training.fit(more, fx.batches(disks), tmp_path, epochs=3, verbose=0)
    assert result.initial_epoch == 2 and result.epochs_completed == 3
    assert int(more.optimizer.iterations.numpy()) == 6
    assert len(result.history["loss"]) == 3
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["epochs_completed"] == 3 and state["total_images_seen"] == 32
    # the schedule restarts from the first call's peak, not from the decayed rate
    assert state["peak_learning_rate"] == pytest.approx(2e-3)

    # resume=False starts over
    fresh = fx.training_vqvae()
    result = training.fit(fresh, fx.batches(disks), tmp_path, epochs=1, resume=False, verbose=0)
    assert result.initial_epoch == 0 and len(result.history["loss"]) == 1


def test_an_unreadable_newest_backup_falls_back_to_the_one_before(tmp_path, disks):
    training.fit(fx.training_vqvae(), fx.batches(disks), tmp_path, epochs=2, verbose=0)
    newest = tmp_path / training.BACKUP_DIR / "epoch-00002" / callbacks.BACKUP_WEIGHTS
    newest.write_bytes(newest.read_bytes()[:1000])  # a disk error: a truncated file
    model = fx.training_vqvae(seed=4)
    with pytest.warns(UserWarning, match="epoch 1"):
        result = training.fit(model, fx.batches(disks), tmp_path, epochs=3, verbose=0)
    assert result.initial_epoch == 1 and result.epochs_completed == 3
    assert result.history["epoch"] == [0, 1, 2]
    assert int(model.optimizer.iterations.numpy()) == 6


# ---------------------------------------------------------------------------------------------
# NaN, logs, checkpoints, early stopping
# ---------------------------------------------------------------------------------------------
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_epoch(tmp_path, disks):
    model = fx.training_vqvae()
    with pytest.raises(training.TrainingDivergedError, match="learning_rate") as error:
        training.fit(
            model,
            fx.batches(disks),
            tmp_path,
            epochs=5,
            verbose=0,
            callbacks=[_PoisonWeights(at=2)],
        )
    message = str(error.value)
    assert "epoch 3" in message and "last finite epoch (2)" in message
    # nothing of the NaN epoch was recorded; the model is back at epoch 2
    assert all(np.isfinite(weight).all() for weight in fx.weights_of(model))
    state = json.loads((tmp_path / training.STATE_FILE).read_text())
    assert state["stopped_by"] == "nan" and state["epochs_completed"] == 2
    assert len(training.read_history(tmp_path)["loss"]) == 2
    last = keras.saving.load_model(tmp_path / training.LAST_MODEL, safe_mode=True)
    assert all(np.isfinite(np.asarray(weight)).all() for weight in last.weights)


def test_logs_checkpoints_and_early_stopping(tmp_path, disks):
    model = fx.training_vqvae()
    result = training.fit(
        model,
        fx.batches(disks),
        tmp_path,
        epochs=3,
        validation_data=fx.batches(disks),
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
        assert loaded.num_embeddings == fx.TRAINING_VQVAE["num_embeddings"]
    assert (tmp_path / training.BACKUP_DIR / "epoch-00003" / callbacks.BACKUP_WEIGHTS).exists()
    assert not list(tmp_path.glob(".*partial*"))  # no temporary files left behind
    assert result.history["val_loss"] and np.isfinite(result.history["val_loss"]).all()

    # a (gradient-trained) model that cannot improve at a learning rate of 1e-9:
    # with patience 1 it stops after its second epoch
    stopper = fx.training_vqvae(quantizer="standard")
    result = training.fit(
        stopper,
        fx.batches(disks),
        tmp_path / "early",
        epochs=6,
        validation_data=fx.batches(disks),
        early_stopping_patience=1,
        learning_rate=1e-9,
        verbose=0,
    )
    assert result.stopped_by == "early_stopping" and result.epochs_completed < 6
    # re-running with the same epochs does not train on after early stopping
    rerun = training.fit(
        fx.training_vqvae(quantizer="standard"),
        fx.batches(disks),
        tmp_path / "early",
        epochs=6,
        verbose=0,
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


def test_time_budget_stops_after_the_last_epoch_predicted_to_fit(tmp_path, disks, monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(callbacks.TimeBudget, "clock", staticmethod(clock))
    # 2 steps of 10 s per epoch, a budget of 45 s: after epoch 1 (20 s) another epoch
    # fits (40 s); after epoch 2 a third would end at 60 s: stop, with 2 whole epochs
    with pytest.warns(training.BudgetStopWarning, match="after 2 of 20 epochs"):
        result = training.fit(
            fx.training_vqvae(),
            fx.batches(disks),
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
        fx.training_vqvae(),
        fx.batches(disks),
        tmp_path,
        epochs=20,
        max_train_minutes=45 / 60,
        verbose=0,
        callbacks=[_StepTakes(clock, {})],
    )
    assert result.initial_epoch == 2 and result.epochs_completed == 4


def test_time_budget_spent_mid_epoch_does_not_count_the_partial_epoch(tmp_path, disks, monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(callbacks.TimeBudget, "clock", staticmethod(clock))
    # epoch 1 takes 2 x 10 s (another such epoch fits in 45 s), but epoch 2's steps
    # take 30 s: the budget is spent after its first step of two
    model = fx.training_vqvae()
    result = training.fit(
        model,
        fx.batches(disks),
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
    resumed = fx.training_vqvae(seed=2)
    result = training.fit(resumed, fx.batches(disks), tmp_path, epochs=2, verbose=0)
    assert result.initial_epoch == 1 and result.epochs_completed == 2
    assert int(resumed.optimizer.iterations.numpy()) == 4
    assert result.history["epoch"] == [0, 1]


# ---------------------------------------------------------------------------------------------
# The compiled path users run: EMA, k-means++ initialisation, dead-code restarts
# ---------------------------------------------------------------------------------------------
def test_graph_mode_training_initialises_once_restarts_codes_and_learns(tmp_path, monkeypatch):
    # count the k-means++ runs inside the compiled train step (a variable, not Python)
    initialisations = tf.Variable(0, dtype=tf.int64, trainable=False)
    original = quantizer_layer.kmeans_plus_plus

    def counted(*args, **kwargs):
        initialisations.assign_add(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(quantizer_layer, "kmeans_plus_plus", counted)  # where the layer calls it
    batches = fx.batches(fx.bright_disks(32, 16, seed=1))  # 4 steps per epoch

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
# Arguments, and two replicas
# ---------------------------------------------------------------------------------------------
def test_invalid_arguments(tmp_path, disks):
    model = fx.training_vqvae()
    with pytest.raises(ValueError, match="epochs"):
        training.fit(model, fx.batches(disks), tmp_path, epochs=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        training.fit(model, fx.batches(disks), tmp_path, epochs=1, lr_schedule="step")
    with pytest.raises(ValueError, match="max_train_minutes"):
        training.fit(model, fx.batches(disks), tmp_path, epochs=1, max_train_minutes=0)
    with pytest.raises(ValueError, match="settings"):
        training.fit(model, fx.batches(disks), tmp_path, epochs=1, settings=[("seed", 1)])


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
    comparable = dict(
        fx.TRAINING_VQVAE, dead_code_steps=None, quantizer_options={"init": None, "seed": 1}
    )
    # restarts of codes unused for a single step: at each step every code the global
    # batch does not use is restarted, so the count follows from the logged usage
    restarting = dict(
        fx.TRAINING_VQVAE,
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
