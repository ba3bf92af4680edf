"""The series' training settings: the defaults pass notebook 03's checks, and
:func:`oasis_helpers.training.fit_with_settings` trains with the settings a run is filed under."""

from __future__ import annotations

import json

import oasis_fixtures as fx
import pytest

from oasis_helpers import models, parameters, training


def test_default_training_settings_pass_notebook_03s_checks():
    """The defaults notebook 03 reads are values its parameter check accepts."""
    settings = training.DEFAULT_TRAINING
    checked = parameters.check(image_size=models.DEFAULT_CONFIG["image_size"], **settings)
    assert {name: checked[name] for name in settings} == settings


def test_fit_with_settings_trains_with_the_settings_the_run_is_filed_under(tmp_path, disks):
    settings = dict(fx.RUN_SETTINGS, epochs=2, steps_per_epoch=1, batch_size=8, learning_rate=1e-3)
    folder = training.config_run_dir(tmp_path, fx.TRAINING_VQVAE, settings)
    result = training.fit_with_settings(
        fx.training_vqvae(), fx.batches(disks).repeat(), folder, settings
    )
    assert result.epochs_completed == 2 and result.stopped_by == "epochs"
    assert result.images_seen == 2 * 1 * 8  # epochs x steps_per_epoch x batch_size
    state = json.loads((folder / training.STATE_FILE).read_text())
    assert state["peak_learning_rate"] == pytest.approx(1e-3)
    recorded = json.loads((folder / training.RUN_CONFIG).read_text())["settings"]
    assert recorded["steps_per_epoch"] == 1 and "epochs" not in recorded  # epochs may grow
    # more epochs in the settings continue the same run, in the same folder
    more = dict(settings, epochs=3)
    assert training.config_run_dir(tmp_path, fx.TRAINING_VQVAE, more) == folder
    again = training.fit_with_settings(
        fx.training_vqvae(), fx.batches(disks).repeat(), folder, more
    )
    assert (again.initial_epoch, again.epochs_completed) == (2, 3)

    with pytest.raises(
        ValueError, match=r"lack the training settings \['steps_per_epoch', 'learning_rate'\]"
    ):
        training.fit_with_settings(fx.training_vqvae(), fx.batches(disks), folder, fx.RUN_SETTINGS)
    with pytest.raises(ValueError, match=r"\['batch_size'\] come from settings"):
        training.fit_with_settings(
            fx.training_vqvae(), fx.batches(disks), folder, settings, batch_size=4
        )


def test_train_in_run_dir_trains_in_the_folder_of_the_configuration(tmp_path, disks, monkeypatch):
    """The folder is config_run_dir's; a second call resumes it; interactive adds a live plot
    that starts from the earlier calls' epochs, before the caller's own callbacks."""
    import keras

    from oasis_helpers import plots

    settings = dict(fx.RUN_SETTINGS, epochs=1, steps_per_epoch=1, batch_size=8, learning_rate=1e-3)
    folder = training.config_run_dir(tmp_path, fx.TRAINING_VQVAE, settings)
    result = training.train_in_run_dir(
        fx.training_vqvae(), fx.batches(disks).repeat(), tmp_path, fx.TRAINING_VQVAE, settings
    )
    assert result.requested_run_dir == result.run_dir == folder
    assert result.epochs_completed == 1 and len(training.read_history(folder)["loss"]) == 1

    order = []

    class Recorder(keras.callbacks.Callback):
        def __init__(self, name, previous=None):
            super().__init__()
            self.name = name
            if previous is not None:
                order.append((name, "previous epochs", len(previous["loss"])))

        def on_epoch_end(self, epoch, logs=None):
            order.append((self.name, "epoch", epoch))

    monkeypatch.setattr(plots, "LivePlot", lambda previous: Recorder("live", previous))
    again = training.train_in_run_dir(
        fx.training_vqvae(),
        fx.batches(disks).repeat(),
        tmp_path,
        fx.TRAINING_VQVAE,
        dict(settings, epochs=2),
        interactive=True,
        callbacks=[Recorder("mine")],
    )
    assert (again.initial_epoch, again.epochs_completed) == (1, 2)
    assert again.requested_run_dir == folder
    assert order == [("live", "previous epochs", 1), ("live", "epoch", 1), ("mine", "epoch", 1)]
