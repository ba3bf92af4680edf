"""The files of a run folder (oasis_helpers.training.run_files): the training state, clearing a
run, and the best value so far."""

from __future__ import annotations

import math

import pytest

from oasis_helpers import training


def test_the_training_state_round_trips_and_a_damaged_one_says_what_to_do(tmp_path):
    assert training.read_state(tmp_path) == {}  # before the first epoch
    training.write_state(tmp_path, {"epochs_completed": 2, "stopped_by": "epochs"})
    assert training.read_state(tmp_path) == {"epochs_completed": 2, "stopped_by": "epochs"}
    (tmp_path / training.STATE_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"not valid JSON.*resume=False"):
        training.read_state(tmp_path)


def test_clear_run_deletes_what_fit_wrote_but_not_the_folders_configuration(tmp_path):
    for name in (training.RUN_CONFIG, training.LAST_MODEL, training.CSV_LOG, training.STATE_FILE):
        (tmp_path / name).write_text("x")
    (tmp_path / training.BACKUP_DIR / "epoch-00001").mkdir(parents=True)
    (tmp_path / training.CONFIG_FILE).write_text("{}")
    training.clear_run(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [training.CONFIG_FILE]
    training.clear_run(tmp_path)  # nothing left to delete: no error


def test_best_so_far_is_the_lowest_finite_value():
    assert training.best_so_far({"val_loss": [0.5, math.nan, 0.2, 0.3]}, "val_loss") == 0.2
    assert training.best_so_far({"val_loss": [math.nan]}, "val_loss") is None
    assert training.best_so_far({}, "val_loss") is None
