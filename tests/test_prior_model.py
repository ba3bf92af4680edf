"""The gated PixelCNN (oasis_helpers.prior.model): causality, position features,
conditioning, dilations, saving and training.

Causality is checked by perturbing codes (never by reading mask constants). Tiny models
(tests/oasis_fixtures.py: a few channels, grids of a few codes) keep the file fast.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior, training


@pytest.mark.parametrize("coordinates", [True, False])
@pytest.mark.parametrize(
    ("num_layers", "conditional", "kernel_size", "dilations"),
    [
        (1, False, 3, (1,)),
        (2, False, 3, (1,)),
        (3, True, 3, (1,)),
        (5, False, 3, (1,)),
        (2, True, 5, (1,)),
        (1, False, 3, (2,)),
        (4, True, 3, (1, 2, 4)),
        (3, False, 5, (2, 1)),
    ],
)
def test_logits_ignore_codes_at_and_after_their_position(
    num_layers, conditional, kernel_size, dilations, coordinates
):
    model = fx.tiny_prior(
        num_layers, conditional, kernel_size, coordinates=coordinates, dilations=dilations
    )
    height, width = 5, 6
    base = fx.random_codes(1, height, width)[0]
    rng = np.random.default_rng(1)
    grids = [base]
    for position in range(height * width):
        # replace every code at and after `position` (raster order) by a different one
        perturbed = base.reshape(-1).copy()
        perturbed[position:] = (
            perturbed[position:] + rng.integers(1, fx.PRIOR_CODES, perturbed[position:].shape)
        ) % fx.PRIOR_CODES
        grids.append(perturbed.reshape(height, width))
    grids = np.stack(grids)
    logits = prior.prior_logits(model, grids, fx.prior_slice_heights(model, len(grids)))
    for position in range(height * width):
        row, column = divmod(position, width)
        original = logits[0].reshape(height * width, fx.PRIOR_CODES)[: position + 1]
        changed = logits[position + 1].reshape(height * width, fx.PRIOR_CODES)[: position + 1]
        np.testing.assert_allclose(
            changed, original, atol=1e-5, err_msg=f"position ({row}, {column}) saw the future"
        )
        # ... while later positions do react (the perturbation is not a no-op)
    assert not np.allclose(logits[1], logits[0], atol=1e-5)


@pytest.mark.parametrize(
    ("dilations", "height", "width", "target_row", "target_column"),
    [((1,), 6, 9, 5, 4), ((1, 2, 4, 1), 11, 19, 10, 9)],
)
def test_each_position_sees_every_earlier_code_in_its_receptive_field(
    dilations, height, width, target_row, target_column
):
    """No blind spot: every code above (within the receptive field) and to the left matters."""
    model = fx.tiny_prior(num_layers=4, dilations=dilations)
    base = fx.random_codes(1, height, width, seed=3)[0]
    reach = model.receptive_field
    grids = [base]
    earlier = []
    for row in range(height):
        for column in range(width):
            if (row, column) >= (target_row, target_column):
                continue
            rows_up = target_row - row
            if rows_up > reach["rows_above"]:
                continue
            if row == target_row or abs(column - target_column) <= reach["columns_right"]:
                changed = base.copy()
                changed[row, column] = (changed[row, column] + 1) % fx.PRIOR_CODES
                grids.append(changed)
                earlier.append((row, column))
    logits = prior.prior_logits(model, np.stack(grids))
    target = logits[:, target_row, target_column]
    blind = [
        spot
        for spot, value in zip(earlier, target[1:], strict=True)
        if np.allclose(value, target[0], atol=1e-7)
    ]
    assert not blind, f"position ({target_row}, {target_column}) is blind to {blind}"
    # the upper right, which the plain PixelCNN's blind spot hides, is among the checked ones
    assert (target_row - 1, target_column + 2) in earlier


def test_coordinates_tell_positions_apart():
    """With coordinates, two positions with the same past get different logits."""
    codes = np.zeros((1, 4, 12), np.int32)
    with_coordinates = prior.prior_logits(fx.tiny_prior(2, coordinates=True), codes)
    without = prior.prior_logits(fx.tiny_prior(2, coordinates=False), codes)
    # far from the side edges (past all zeros, receptive field inside the grid): same context
    assert np.allclose(without[0, 3, 5], without[0, 3, 6], atol=1e-6)
    assert not np.allclose(with_coordinates[0, 3, 5], with_coordinates[0, 3, 6], atol=1e-4)


def test_fourier_position_features_are_optional_checked_and_saved(tmp_path):
    """``feature_frequencies`` adds a hidden layer over sin/cos features; () removes it."""
    keras.utils.set_random_seed(3)
    plain = prior.GatedPixelCNN(
        num_embeddings=fx.PRIOR_CODES, hidden_channels=4, num_layers=1, head_channels=4,
        conditional=False, coordinates=True, feature_frequencies=(),
    )  # fmt: skip
    fourier = prior.GatedPixelCNN(
        num_embeddings=fx.PRIOR_CODES, hidden_channels=4, num_layers=1, head_channels=4,
        conditional=False, coordinates=True, feature_frequencies=(1, 3),
    )  # fmt: skip
    assert plain.position_hidden is None and fourier.position_hidden is not None
    # the hidden layer reads [u, sin(pi f u), cos(pi f u)]: 2 coordinates x (1 + 2 x 2 freqs)
    assert fourier.position_hidden.kernel.shape[0] == 2 * (1 + 2 * 2)
    with pytest.raises(ValueError, match="feature_frequencies"):
        prior.GatedPixelCNN(
            num_embeddings=fx.PRIOR_CODES, coordinates=True, feature_frequencies=(0,)
        )
    path = tmp_path / "fourier.keras"
    fourier.save(path)
    loaded = prior.load_prior(path)
    assert loaded.feature_frequencies == (1.0, 3.0)
    codes = fx.random_codes(2, 5, 6)
    np.testing.assert_allclose(
        prior.prior_logits(loaded, codes), prior.prior_logits(fourier, codes), atol=1e-5
    )


def test_conditioning_changes_the_output_and_is_required():
    model = fx.tiny_prior(conditional=True)
    codes = fx.random_codes(2, 4, 4)
    low = prior.prior_logits(model, codes, [0.0, 0.0])
    high = prior.prior_logits(model, codes, [1.0, 1.0])
    assert not np.allclose(low, high, atol=1e-4)
    with pytest.raises(ValueError, match="slice_heights"):
        prior.prior_logits(model, codes)
    with pytest.raises(ValueError, match="slice_heights"):
        model(codes)


def test_dilations_repeat_over_the_blocks_and_widen_the_receptive_field():
    plain = fx.tiny_prior(num_layers=4)
    dilated = fx.tiny_prior(num_layers=4, dilations=(1, 2))
    assert [block.dilation for block in dilated.blocks] == [1, 2, 1, 2]
    assert plain.receptive_field["rows_above"] == 5
    assert dilated.receptive_field["rows_above"] == 7
    # measured: the dilated prior sees 6 rows up, the plain one does not
    plain_field = prior.receptive_field_map(plain, 9, 9, (8, 4))
    dilated_field = prior.receptive_field_map(dilated, 9, 9, (8, 4))
    assert not plain_field[:3].any() and dilated_field[2, 4] and dilated_field[1, 4]
    assert not dilated_field[0].any()
    for bad in ((), (1, 0), (2.5,)):
        with pytest.raises(ValueError, match="dilations"):
            fx.tiny_prior(dilations=bad)


def test_save_and_load_in_safe_mode(tmp_path):
    model = prior.compile_prior(fx.tiny_prior(2, conditional=True, dilations=(1, 2)))
    codes = fx.random_codes(2, 4, 4)
    slice_heights = np.array([0.2, 0.8], np.float32)
    before = prior.prior_logits(model, codes, slice_heights)
    path = tmp_path / prior.PRIOR_FILE
    model.save(path)
    loaded = prior.load_prior(path)
    assert loaded.get_config()["num_layers"] == 2 and loaded.conditional and loaded.coordinates
    assert loaded.dilations == (1, 2) and [block.dilation for block in loaded.blocks] == [1, 2]
    np.testing.assert_allclose(prior.prior_logits(loaded, codes, slice_heights), before, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="04_pixelcnn_prior"):
        prior.load_prior(tmp_path / "missing.keras")


def _striped_codes(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Grids whose every row repeats one random code: predictable after the first column."""
    rng = np.random.default_rng(seed)
    return np.repeat(rng.integers(0, fx.PRIOR_CODES, (count, height, 1)), width, axis=2).astype(
        np.int32
    )


def test_a_prior_compiled_without_a_learning_rate_trains_at_notebook_04s():
    """make_prior and compile_prior default to the rate notebook 04 trains with."""
    expected = prior.DEFAULT_PRIOR_TRAINING["learning_rate"]
    made = prior.make_prior(num_embeddings=fx.PRIOR_CODES, hidden_channels=4, num_layers=1)
    compiled = prior.compile_prior(fx.tiny_prior(1))
    for model in (made, compiled):
        assert float(model.optimizer.learning_rate) == pytest.approx(expected)


def test_training_with_fit_learns_structure_and_refuses_another_configuration(tmp_path):
    codes = _striped_codes(64, 4, 6)
    model = prior.compile_prior(fx.tiny_prior(2), learning_rate=1e-2)
    settings = {"batch_size": 16, "seed": 0}
    before = prior.nll_bits_per_code(model, codes)
    dataset = prior.make_code_dataset(codes, batch_size=16, seed=0)
    result = training.fit(
        model,
        dataset,
        tmp_path,
        epochs=3,
        steps_per_epoch=20,
        verbose=0,
        early_stopping_patience=None,
        settings=settings,
    )
    assert result.epochs_completed == 3
    after = prior.nll_bits_per_code(model, codes)
    # striped grids: one code in six is unpredictable (log2 7 bits), the rest are copies
    assert after < before - 0.5
    assert after < 0.6 * math.log2(fx.PRIOR_CODES)
    other = prior.compile_prior(fx.tiny_prior(3), learning_rate=1e-2)
    with pytest.raises(training.ConfigMismatchError, match="num_layers"):
        training.fit(
            other, dataset, tmp_path, epochs=4, steps_per_epoch=2, verbose=0, settings=settings
        )
