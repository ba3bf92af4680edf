"""The pieces of :mod:`oasis_helpers.callbacks` on their own (no training: fast).

``tests/test_training_fitting.py`` tests them at work inside ``training.fit``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from oasis_helpers import callbacks


def test_log_rows_round_trip_replace_redone_epochs_and_trim(tmp_path):
    path = tmp_path / "log.csv"
    callbacks.write_log_rows(path, {0: {"loss": "0.5"}, 1: {"loss": "0.4", "val_loss": "0.6"}})
    lines = path.read_text().splitlines()
    assert lines == ["epoch,loss,val_loss", "0,0.5,NA", "1,0.4,0.6"]
    # a row appended by hand for a redone epoch: the last one wins
    with path.open("a") as handle:
        handle.write("1,0.3,0.5\n")
    assert callbacks.read_log_rows(path)[1] == {"epoch": "1", "loss": "0.3", "val_loss": "0.5"}
    callbacks.trim_log(path, epochs_done=1)  # epoch 1 is not in the backup: dropped
    assert list(callbacks.read_log_rows(path)) == [0]


class _Model:
    """Just what EpochRecord reads of a model."""

    stop_training = False


def _record(steps):
    record = callbacks.EpochRecord()
    record.set_params({"steps": steps, "epochs": 3})
    record._model = _Model()  # noqa: SLF001 (Callback.model reads _model)
    return record


@pytest.mark.parametrize("steps", [4, None])
def test_epoch_record_tells_finished_from_partial_epochs(steps):
    record = _record(steps)
    record.on_epoch_begin(0)
    for batch in range(4):
        record.on_train_batch_end(batch, {"loss": 0.1})
    record.on_epoch_end(0, {"loss": 0.1})
    assert record.finished and record.partial_epochs == 0

    record.on_epoch_begin(1)
    record.on_train_batch_end(0, {"loss": 0.1})
    record.model.stop_training = True  # e.g. the time budget, mid-epoch
    record.on_epoch_end(1, {"loss": 0.1})
    assert not record.finished and record.partial_epochs == 1 and record.steps_done == 1

    record.model.stop_training = False
    record.on_epoch_begin(2)
    for batch in range(4):
        record.on_train_batch_end(batch, {"loss": float("nan")})
    record.on_epoch_end(2, {"loss": float("nan")})
    assert not record.finished  # whole, but diverged


def test_epoch_backup_keeps_the_newest_two_complete_folders(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # as after a training step
    backup = callbacks.EpochBackup(tmp_path)
    backup.set_model(model)
    (tmp_path / ".partial-epoch-00009").mkdir()  # left by a killed process
    for epochs_done in (1, 2, 3):
        backup.save(epochs_done)
    assert callbacks.backup_epochs(tmp_path) == [2, 3]
    assert sorted(item.name for item in tmp_path.iterdir()) == ["epoch-00002", "epoch-00003"]

    weights = [np.asarray(weight).copy() for weight in model.weights]
    model.layers[0].kernel.assign(np.zeros((2, 1), np.float32))
    assert callbacks.restore_backup(model, tmp_path) == 3
    for restored, saved in zip(model.weights, weights, strict=True):
        np.testing.assert_array_equal(np.asarray(restored), saved)
    assert callbacks.restore_backup(model, tmp_path / "missing") == 0


def test_time_budget_rejects_a_budget_that_is_not_positive():
    with pytest.raises(ValueError, match="positive"):
        callbacks.TimeBudget(0)


def test_cosine_schedule_values():
    schedule = callbacks.CosineSchedule(peak=1e-3, epochs=10, final_fraction=0.1)
    assert schedule.rate(0, 0, 100) == pytest.approx(1e-3)
    assert schedule.rate(5, 0, 100) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert schedule.rate(10, 0, 100) == pytest.approx(1e-4)
    # time progress wins when it is ahead of the epochs
    assert schedule.rate(1, 0, 100, elapsed_fraction=1.0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="positive"):
        callbacks.CosineSchedule(peak=0.0, epochs=3)
