"""The blind-spot code model (oasis_helpers.blind_spot): it never sees its hole, it learns,
it saves, and each configuration trains once (how notebook 05's restoration uses its flags:
tests/test_anomaly_pipeline.py)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from oasis_helpers import blind_spot, code_location, training

#: The slice height of the tests' grids: the middle of the head.
HEIGHT = 0.5


def _logits(model, codes) -> np.ndarray:
    return blind_spot.predict_logits(model, codes, HEIGHT)


@pytest.mark.parametrize("hole", [0, 2, 3])
def test_the_prediction_at_a_code_never_sees_its_hole_but_sees_beyond_it(hole):
    keras.utils.set_random_seed(0)
    size, centre = 29, 14
    model = blind_spot.make_blind_spot_model(num_embeddings=6, grid_size=size, hole=hole)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, (1, size, size)).astype(np.int32)
    reference = _logits(model, codes)[0, centre, centre]
    inside = codes.copy()
    window = slice(centre - hole, centre + hole + 1)
    inside[0, window, window] = (inside[0, window, window] + 1) % 6  # every code of the hole
    np.testing.assert_allclose(_logits(model, inside)[0, centre, centre], reference, atol=1e-5)
    outside = codes.copy()
    outside[0, centre, centre + hole + 1] = (outside[0, centre, centre + hole + 1] + 1) % 6
    assert np.abs(_logits(model, outside)[0, centre, centre] - reference).max() > 1e-4
    far = codes.copy()
    far[0, centre + 4 * 3, centre] = (far[0, centre + 4 * 3, centre] + 1) % 6  # the d = 4 ring
    assert np.abs(_logits(model, far)[0, centre, centre] - reference).max() > 1e-4


def test_every_position_is_told_its_grid_coordinates_and_its_slices_height():
    features = np.zeros((2, 3, 4, 1), np.float32)
    context = np.asarray(blind_spot.GridContext()(features, np.array([[0.2], [0.9]], np.float32)))
    assert context.shape == (2, 3, 4, 4)
    for index, height in enumerate((0.2, 0.9)):
        np.testing.assert_allclose(context[index, ..., 1:3], code_location.grid_coordinates(3, 4))
        np.testing.assert_allclose(context[index, ..., 3], height)


def test_hole_conv_refuses_a_hole_as_large_as_its_reach():
    with pytest.raises(ValueError, match="hole"):
        blind_spot.HoleConv2D(4, reach=2, hole=2)
    with pytest.raises(ValueError, match="hole"):
        blind_spot.make_blind_spot_model(num_embeddings=4, grid_size=8, hole=-1)


def _flat_grids(count: int, size: int, seed: int) -> np.ndarray:
    """Grids that each hold one code everywhere: the surroundings say exactly what is in
    the middle."""
    values = np.random.default_rng(seed).integers(0, 4, count)
    return np.broadcast_to(values[:, None, None], (count, size, size)).astype(np.int32).copy()


def test_training_makes_a_foreign_patch_surprising_and_its_surroundings_not():
    keras.utils.set_random_seed(1)
    size = 12
    model = blind_spot.make_blind_spot_model(num_embeddings=4, grid_size=size, hole=1)
    grids = _flat_grids(96, size, seed=0)
    untrained = blind_spot.surprise_bits(model, grids[:8], HEIGHT)
    validation = _flat_grids(16, size, seed=1)
    history = blind_spot.train_blind_spot_model(
        model, grids, HEIGHT, validation, HEIGHT, epochs=25, verbose=0
    )
    assert history["loss"][-1] < history["loss"][0] and "val_loss" in history
    assert blind_spot.surprise_bits(model, grids[:8], HEIGHT).mean() < 0.25 * untrained.mean()
    lesioned = _flat_grids(4, size, seed=2)
    lesioned[:, 5:7, 5:7] = (lesioned[:, 5:7, 5:7] + 2) % 4  # a 2 x 2 foreign patch
    bits = blind_spot.surprise_bits(model, lesioned, HEIGHT)
    assert bits.shape == lesioned.shape and bits.dtype == np.float32
    patch = np.zeros((size, size), bool)
    patch[5:7, 5:7] = True
    assert bits[:, patch].min() > 2.0  # a lesion code: surprising
    assert np.median(bits[:, ~patch]) < 0.5  # healthy codes, even next to it: not


def test_a_saved_model_loads_in_safe_mode_with_the_same_predictions(tmp_path):
    keras.utils.set_random_seed(2)
    model = blind_spot.make_blind_spot_model(num_embeddings=5, grid_size=8, hole=2)
    codes = np.random.default_rng(0).integers(0, 5, (3, 8, 8)).astype(np.int32)
    path = tmp_path / "blind_spot.keras"
    model.save(path)
    loaded = blind_spot.load_blind_spot_model(path)
    np.testing.assert_allclose(
        blind_spot.surprise_bits(loaded, codes, [0.1, 0.5, 0.9]),
        blind_spot.surprise_bits(model, codes, [0.1, 0.5, 0.9]),
        rtol=1e-5,
    )
    with pytest.raises(FileNotFoundError, match="notebooks/05_anomaly_detection.ipynb"):
        blind_spot.load_blind_spot_model(tmp_path / "missing.keras")
    other = keras.Sequential([keras.Input((8, 8)), keras.layers.Dense(2)], name="other")
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="'other', not a blind-spot model"):
        blind_spot.load_blind_spot_model(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="integer"):
        blind_spot.surprise_bits(model, codes.astype(np.float32), HEIGHT)


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
    grids = _flat_grids(16, 8, seed=3)
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
    grids = _flat_grids(16, 8, seed=3)
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


def test_configuration_fills_in_the_defaults_and_refuses_bad_settings():
    assert blind_spot.configuration() == blind_spot.DEFAULT_BLIND_SPOT
    assert blind_spot.configuration({"filters": 32})["filters"] == 32
    assert blind_spot.configuration({"dilations": [1, 2]})["dilations"] == (1, 2)
    bad = {
        "filtres": 32,
        "hole": 6,
        "epochs": 0,
        "batch_size": 2.5,
        "filters": True,
        "learning_rate": 0,
        "dilations": (1, 1),
    }
    for name, value in bad.items():
        with pytest.raises(ValueError, match=name if name != "filtres" else "unknown"):
            blind_spot.configuration({name: value})
    with pytest.raises(ValueError, match="dilations"):
        blind_spot.make_blind_spot_model(4, 8, dilations=())


def test_other_dilations_keep_the_hole_blind():
    keras.utils.set_random_seed(6)
    size, centre, hole = 25, 12, 2
    model = blind_spot.make_blind_spot_model(6, size, hole=hole, filters=8, dilations=(3, 5))
    codes = np.random.default_rng(2).integers(0, 6, (1, size, size)).astype(np.int32)
    reference = _logits(model, codes)[0, centre, centre]
    inside = codes.copy()
    window = slice(centre - hole, centre + hole + 1)
    inside[0, window, window] = (inside[0, window, window] + 1) % 6
    np.testing.assert_allclose(_logits(model, inside)[0, centre, centre], reference, atol=1e-5)
    for offset in (3, 10):  # the d = 3 ring's first tap and the d = 5 ring's second
        outside = codes.copy()
        outside[0, centre, centre + offset] = (outside[0, centre, centre + offset] + 1) % 6
        assert np.abs(_logits(model, outside)[0, centre, centre] - reference).max() > 1e-4
