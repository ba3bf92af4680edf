"""Training the prior on code grids (oasis_helpers.prior.fitting)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import code_grids, prior, training


def _grids(path: Path) -> code_grids.CodeGrids:
    splits = {
        name: code_grids.CodeSplit(
            codes=fx.random_codes(count, 4, 4, seed=index),
            subject_ids=np.array([f"s{i // 2}" for i in range(count)]),
            slice_ids=np.arange(count, dtype=np.int32) % 2,
            slice_heights=np.linspace(0, 1, count, dtype=np.float32),
        )
        for index, (name, count) in enumerate({"train": 8, "validate": 4, "test": 4}.items())
    }
    return code_grids.CodeGrids(splits, fx.PRIOR_CODES, 4, 4, 16, path=path)


@pytest.mark.parametrize("conditional", [False, True])
def test_train_prior_trains_in_the_folder_named_by_model_settings_and_codes(tmp_path, conditional):
    grids = _grids(tmp_path / "codes.npz")
    model = prior.compile_prior(fx.tiny_prior(1, conditional=conditional), learning_rate=1e-2)
    settings = dict(batch_size=4, steps_per_epoch=2, learning_rate=1e-2, seed=0, epochs=1)
    settings["max_train_minutes"] = None
    result = prior.train_prior(model, grids, tmp_path / "training", settings, verbose=0)
    expected = training.config_run_dir(
        tmp_path / "training", model.get_config(), {"codes": str(grids.path), **settings}
    )
    assert result.requested_run_dir == expected and result.epochs_completed == 1
    assert result.stopped_by == "epochs" and "val_loss" in result.history
    recorded = json.loads((expected / training.RUN_CONFIG).read_text())["settings"]
    assert recorded["codes"] == str(grids.path)
    # other codes: another run
    other = prior.train_prior(
        model, _grids(tmp_path / "new.npz"), tmp_path / "training", settings, verbose=0
    )
    assert other.requested_run_dir != expected


def test_train_prior_refuses_settings_it_cannot_use(tmp_path):
    grids, model = _grids(tmp_path / "codes.npz"), prior.compile_prior(fx.tiny_prior(1))
    with pytest.raises(ValueError, match="codes"):
        prior.train_prior(model, grids, tmp_path, {"codes": "x", "batch_size": 4, "seed": 0})
    with pytest.raises(ValueError, match=r"\['seed'\]"):
        prior.train_prior(model, grids, tmp_path, {"batch_size": 4})
