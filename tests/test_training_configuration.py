"""A run folder holds one configuration: resuming another is refused before anything loads,
and :func:`oasis_helpers.training.config_run_dir` gives each configuration a folder of its own."""

from __future__ import annotations

import json

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import training


def _fit_one_epoch(run_dir, disks):
    """One epoch of the tiny VQ-VAE filed under fx.RUN_SETTINGS in ``run_dir``."""
    return training.fit(
        fx.training_vqvae(),
        fx.batches(disks),
        run_dir,
        epochs=1,
        settings=fx.RUN_SETTINGS,
        verbose=0,
    )


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
    tmp_path, disks, model_change, settings_change, named
):
    _fit_one_epoch(tmp_path, disks)
    stored = json.loads((tmp_path / training.RUN_CONFIG).read_text())
    assert stored["model"]["num_embeddings"] == 16 and stored["settings"]["crop_size"] == 32
    assert "epochs" not in stored["settings"]  # may grow between calls

    changed = fx.training_vqvae(seed=9, **model_change)
    before = fx.weights_of(changed)
    with pytest.raises(training.ConfigMismatchError) as error:
        training.fit(
            changed,
            fx.batches(disks),
            tmp_path,
            epochs=2,  # more epochs: without the check this would continue the old run
            settings=dict(fx.RUN_SETTINGS, **settings_change),
            verbose=0,
        )
    message = str(error.value)
    assert named in message, message
    assert "resume=False" in message and "config_run_dir" in message
    assert len(error.value.differences) == 1
    assert isinstance(error.value, ValueError)
    for mine, theirs in zip(fx.weights_of(changed), before, strict=True):  # nothing was loaded
        np.testing.assert_array_equal(mine, theirs)

    # resume=False starts this configuration over in the same folder
    result = training.fit(
        changed,
        fx.batches(disks),
        tmp_path,
        epochs=1,
        settings=dict(fx.RUN_SETTINGS, **settings_change),
        resume=False,
        verbose=0,
    )
    assert result.initial_epoch == 0 and result.epochs_completed == 1


def test_same_configuration_resumes_and_config_run_dir_keys_folders(tmp_path, disks):
    config = dict(fx.TRAINING_VQVAE)
    folder = training.config_run_dir(tmp_path, config, fx.RUN_SETTINGS)
    assert folder.parent == tmp_path and len(folder.name) == 8
    assert json.loads((folder / training.CONFIG_FILE).read_text())["model"]["num_embeddings"] == 16
    # the same configuration (also with other epochs / budget) keeps its folder ...
    assert (
        training.config_run_dir(tmp_path, dict(fx.TRAINING_VQVAE), dict(fx.RUN_SETTINGS, epochs=9))
        == folder
    )
    assert (
        training.config_run_dir(tmp_path, config, dict(fx.RUN_SETTINGS, max_train_minutes=3))
        == folder
    )
    # ... another configuration gets another one
    others = {
        training.config_run_dir(
            tmp_path, dict(fx.TRAINING_VQVAE, num_embeddings=32), fx.RUN_SETTINGS
        ),
        training.config_run_dir(
            tmp_path, dict(fx.TRAINING_VQVAE, commitment_cost=0.5), fx.RUN_SETTINGS
        ),
        training.config_run_dir(tmp_path, config, dict(fx.RUN_SETTINGS, seed=1)),
        training.config_run_dir(tmp_path, config, dict(fx.RUN_SETTINGS, crop_size=16)),
    }
    assert len(others) == 4 and folder not in others

    first = _fit_one_epoch(folder, disks)
    assert first.epochs_completed == 1
    # a raised epochs (and a budget) in the settings continue the same run
    result = training.fit(
        fx.training_vqvae(seed=3),
        fx.batches(disks),
        folder,
        epochs=2,
        settings=dict(fx.RUN_SETTINGS, epochs=2, max_train_minutes=30),
        verbose=0,
    )
    assert result.initial_epoch == 1 and result.epochs_completed == 2
    assert (folder / training.CONFIG_FILE).exists()  # fit leaves config_run_dir's file alone


def test_a_backup_whose_configuration_was_deleted_is_refused(tmp_path, disks):
    training.fit(fx.training_vqvae(), fx.batches(disks), tmp_path, epochs=1, verbose=0)
    (tmp_path / training.RUN_CONFIG).unlink()  # the backup of epoch 1 stays
    with pytest.raises(training.ConfigMismatchError, match="no run_config.json.*resume=False"):
        training.fit(fx.training_vqvae(), fx.batches(disks), tmp_path, epochs=2, verbose=0)
