"""The blind-spot code model (oasis_helpers.blind_spot.model): it never sees its hole, it
learns and it saves (how notebook 05's restoration uses its flags:
tests/test_anomaly_pipeline.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from oasis_fixtures import flat_grids

from oasis_helpers import blind_spot

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


def test_training_makes_a_foreign_patch_surprising_and_its_surroundings_not():
    keras.utils.set_random_seed(1)
    size = 12
    model = blind_spot.make_blind_spot_model(num_embeddings=4, grid_size=size, hole=1)
    grids = flat_grids(96, size, seed=0)
    untrained = blind_spot.surprise_bits(model, grids[:8], HEIGHT)
    validation = flat_grids(16, size, seed=1)
    history = blind_spot.train_blind_spot_model(
        model, grids, HEIGHT, validation, HEIGHT, epochs=25, verbose=0
    )
    assert history["loss"][-1] < history["loss"][0] and "val_loss" in history
    assert blind_spot.surprise_bits(model, grids[:8], HEIGHT).mean() < 0.25 * untrained.mean()
    lesioned = flat_grids(4, size, seed=2)
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
