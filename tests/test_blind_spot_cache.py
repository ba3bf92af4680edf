"""Tests of oasis_helpers.blind_spot.cache: each configuration trains once, in a folder of its
own, and a folder of another configuration raises instead of loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from oasis_fixtures import flat_grids

from oasis_helpers import blind_spot, training

#: The slice height of the tests' grids: the middle of the head.
HEIGHT = 0.5

#: A blind-spot configuration small enough to train in a second.
TINY = {
    "hole": 1,
    "embedding_dim": 4,
    "filters": 4,
    "hidden": 8,
    "learning_rate": 1e-3,
    "batch_size": 8,
    "epochs": 1,
    "dilations": (1, 2),
}

#: Another value for each setting of blind_spot.DEFAULT_BLIND_SPOT.
CHANGED = {
    "hole": 2,
    "embedding_dim": 6,
    "filters": 6,
    "hidden": 12,
    "learning_rate": 3e-3,
    "batch_size": 4,
    "epochs": 2,
    "dilations": (1, 3),
}


def test_every_setting_of_the_defaults_has_a_changed_value_in_these_tests():
    assert set(TINY) == set(CHANGED) == set(blind_spot.DEFAULT_BLIND_SPOT)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny model trained with :data:`TINY`, shared by the per-setting tests."""
    base_dir = tmp_path_factory.mktemp("blind_spot")
    grids = flat_grids(16, 8, seed=3)
    model, record = blind_spot.train_or_load(
        base_dir, 4, grids, HEIGHT, grids[:4], HEIGHT, config=TINY, seed=5
    )
    return base_dir, grids, model, record


def _train_or_load(base_dir, grids, config, seed=5):
    return blind_spot.train_or_load(base_dir, 4, grids, HEIGHT, config=config, seed=seed)


@pytest.mark.parametrize("setting", sorted(CHANGED))
def test_changing_a_setting_trains_a_new_model_and_changing_it_back_loads_the_old(
    tiny_run, setting
):
    base_dir, grids, model, first = tiny_run
    changed_config = {**TINY, setting: CHANGED[setting]}
    changed, record = _train_or_load(base_dir, grids, changed_config)
    assert not record["loaded"] and record["folder"] != first["folder"]
    assert record["config"][setting] == json.loads(json.dumps(CHANGED[setting]))
    assert len(record["history"]["loss"]) == changed_config["epochs"]
    stored = json.loads((Path(record["folder"]) / blind_spot.RECORD_FILE).read_text())
    assert stored["configuration"]["model"][setting] == record["config"][setting]
    assert _train_or_load(base_dir, grids, changed_config)[1]["loaded"]  # the same: reloaded
    again, back = _train_or_load(base_dir, grids, TINY)  # changed back: the first model
    assert back["loaded"] and back["folder"] == first["folder"]
    assert back["history"] == first["history"]
    np.testing.assert_allclose(
        blind_spot.surprise_bits(again, grids, HEIGHT),
        blind_spot.surprise_bits(model, grids, HEIGHT),
        rtol=1e-6,
    )


def test_the_trained_model_is_built_from_its_configuration(tiny_run):
    base_dir, grids, model, record = tiny_run
    assert record["config"] == {**TINY, "dilations": list(TINY["dilations"])}
    assert [layer.name for layer in model.layers if isinstance(layer, blind_spot.HoleConv2D)] == [
        "hole_conv_d1",
        "hole_conv_d2",
    ]
    assert model.get_layer("embedding").output_dim == TINY["embedding_dim"]
    assert model.get_layer("hole_conv_d1").filters == TINY["filters"]
    assert model.get_layer("hidden_1").filters == TINY["hidden"]
    folder = Path(record["folder"])
    assert folder.parent == base_dir
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        ["config.json", blind_spot.MODEL_FILE, blind_spot.RECORD_FILE]
    )
    stored = json.loads((folder / "config.json").read_text())
    assert stored == record["configuration"]
    assert stored["model"]["filters"] == TINY["filters"] and stored["settings"]["seed"] == 5


def test_train_or_load_reuses_a_model_only_for_the_same_seed_and_codes(tiny_run):
    base_dir, grids, _, first = tiny_run
    changed = grids.copy()
    changed[0, 0, 0] = (changed[0, 0, 0] + 1) % 4  # notebook 03 was re-run: new codes
    for codes, seed in ((changed, 5), (grids, 6)):
        record = _train_or_load(base_dir, codes, TINY, seed=seed)[1]
        assert not record["loaded"] and record["folder"] != first["folder"]
    slice_heights = np.linspace(0.1, 0.9, len(grids))  # other heights: other codes too
    record = blind_spot.train_or_load(base_dir, 4, grids, slice_heights, config=TINY, seed=5)[1]
    assert not record["loaded"] and record["folder"] != first["folder"]
    assert _train_or_load(base_dir, grids, TINY)[1]["loaded"]


def test_a_folder_of_another_configuration_raises_instead_of_loading(tmp_path):
    grids = flat_grids(16, 8, seed=3)
    record = _train_or_load(tmp_path, grids, TINY)[1]
    folder = Path(record["folder"])
    expected = blind_spot.run_configuration(4, grids, HEIGHT, config=TINY, seed=5)
    assert expected == record["configuration"]
    blind_spot.load_trained(folder, expected)  # its own configuration: loads
    other = blind_spot.run_configuration(4, grids, HEIGHT, config={**TINY, "filters": 8}, seed=5)
    with pytest.raises(training.ConfigMismatchError, match="model.filters: 4 -> 8") as error:
        blind_spot.load_trained(folder, other)
    assert error.value.differences == {"model.filters": (4, 8)}
    # a record edited (or copied) by hand is not trusted either, nor overwritten
    path = folder / blind_spot.RECORD_FILE
    edited = json.loads(path.read_text())
    edited["configuration"]["model"]["hidden"] = 99
    path.write_text(json.dumps(edited))
    with pytest.raises(training.ConfigMismatchError, match="model.hidden: 99 -> 8"):
        _train_or_load(tmp_path, grids, TINY)
    with pytest.raises(FileNotFoundError, match="train_or_load"):
        blind_spot.load_trained(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a model file"):
        blind_spot.train_or_load(tmp_path / "blind_spot.keras", 4, grids, HEIGHT, config=TINY)
