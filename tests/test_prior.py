"""The gated PixelCNN prior: causality, fast sampling, likelihood, baselines, quality.

Causality is checked by perturbing codes (never by reading mask constants); the fast
sampler is checked against the full network step by step and draw by draw. Tiny
models (a few channels, grids of a few codes) keep the file fast.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from oasis_helpers import prior, training

NUM_CODES = 7


def _tiny(
    num_layers: int = 3,
    conditional: bool = False,
    kernel_size: int = 3,
    seed: int = 1,
    coordinates: bool = True,
    dilations=(1,),
):
    keras.utils.set_random_seed(seed)
    return prior.GatedPixelCNN(
        num_embeddings=NUM_CODES,
        hidden_channels=8,
        num_layers=num_layers,
        kernel_size=kernel_size,
        head_channels=8,
        conditional=conditional,
        coordinates=coordinates,
        dilations=dilations,
    )


def _random_codes(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return (
        np.random.default_rng(seed).integers(0, NUM_CODES, (count, height, width)).astype(np.int32)
    )


def _positions(model, count: int, value: float = 0.4):
    return np.full(count, value, np.float32) if model.conditional else None


# ---------------------------------------------------------------------------------------------
# causality
# ---------------------------------------------------------------------------------------------
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
    model = _tiny(
        num_layers, conditional, kernel_size, coordinates=coordinates, dilations=dilations
    )
    height, width = 5, 6
    base = _random_codes(1, height, width)[0]
    rng = np.random.default_rng(1)
    grids = [base]
    for position in range(height * width):
        # replace every code at and after `position` (raster order) by a different one
        perturbed = base.reshape(-1).copy()
        perturbed[position:] = (
            perturbed[position:] + rng.integers(1, NUM_CODES, perturbed[position:].shape)
        ) % NUM_CODES
        grids.append(perturbed.reshape(height, width))
    grids = np.stack(grids)
    logits = prior.prior_logits(model, grids, _positions(model, len(grids)))
    for position in range(height * width):
        row, column = divmod(position, width)
        original = logits[0].reshape(height * width, NUM_CODES)[: position + 1]
        changed = logits[position + 1].reshape(height * width, NUM_CODES)[: position + 1]
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
    model = _tiny(num_layers=4, dilations=dilations)
    base = _random_codes(1, height, width, seed=3)[0]
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
                changed[row, column] = (changed[row, column] + 1) % NUM_CODES
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
    with_coordinates = prior.prior_logits(_tiny(2, coordinates=True), codes)
    without = prior.prior_logits(_tiny(2, coordinates=False), codes)
    # far from the side edges (past all zeros, receptive field inside the grid): same context
    assert np.allclose(without[0, 3, 5], without[0, 3, 6], atol=1e-6)
    assert not np.allclose(with_coordinates[0, 3, 5], with_coordinates[0, 3, 6], atol=1e-4)


def test_fourier_position_features_are_optional_checked_and_saved(tmp_path):
    """``feature_frequencies`` adds a hidden layer over sin/cos features; () removes it."""
    keras.utils.set_random_seed(3)
    plain = prior.GatedPixelCNN(
        num_embeddings=NUM_CODES, hidden_channels=4, num_layers=1, head_channels=4,
        conditional=False, coordinates=True, feature_frequencies=(),
    )  # fmt: skip
    fourier = prior.GatedPixelCNN(
        num_embeddings=NUM_CODES, hidden_channels=4, num_layers=1, head_channels=4,
        conditional=False, coordinates=True, feature_frequencies=(1, 3),
    )  # fmt: skip
    assert plain.position_hidden is None and fourier.position_hidden is not None
    # the hidden layer reads [u, sin(pi f u), cos(pi f u)]: 2 coordinates x (1 + 2 x 2 freqs)
    assert fourier.position_hidden.kernel.shape[0] == 2 * (1 + 2 * 2)
    with pytest.raises(ValueError, match="feature_frequencies"):
        prior.GatedPixelCNN(num_embeddings=NUM_CODES, coordinates=True, feature_frequencies=(0,))
    path = tmp_path / "fourier.keras"
    fourier.save(path)
    loaded = prior.load_prior(path)
    assert loaded.feature_frequencies == (1.0, 3.0)
    codes = _random_codes(2, 5, 6)
    np.testing.assert_allclose(
        prior.prior_logits(loaded, codes), prior.prior_logits(fourier, codes), atol=1e-5
    )


def test_conditioning_changes_the_output_and_is_required():
    model = _tiny(conditional=True)
    codes = _random_codes(2, 4, 4)
    low = prior.prior_logits(model, codes, [0.0, 0.0])
    high = prior.prior_logits(model, codes, [1.0, 1.0])
    assert not np.allclose(low, high, atol=1e-4)
    with pytest.raises(ValueError, match="positions"):
        prior.prior_logits(model, codes)
    with pytest.raises(ValueError, match="positions"):
        model(codes)


# ---------------------------------------------------------------------------------------------
# fast sampling
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("num_layers", "conditional", "coordinates", "jit_compile", "dilations", "kernel_size"),
    [
        (1, False, False, False, (1,), 3),
        (3, True, True, False, (1,), 3),
        (2, True, False, False, (1,), 3),
        (2, False, True, False, (1,), 3),
        (2, True, True, True, (1,), 3),
        # dilated: caches of n*d rows and columns, grids smaller than the reach
        (4, True, False, False, (1, 2, 4), 3),
        (3, False, True, True, (2, 3), 3),
        (2, True, True, False, (3, 1), 5),
    ],
)
def test_fast_sampler_gives_the_full_networks_distribution_at_every_step(
    num_layers, conditional, coordinates, jit_compile, dilations, kernel_size
):
    model = _tiny(
        num_layers, conditional, kernel_size, coordinates=coordinates, dilations=dilations
    )
    height, width = (4, 5) if dilations == (1,) else (9, 11)
    codes = _random_codes(3, height, width, seed=4)
    positions = None if not conditional else np.array([0.0, 0.5, 1.0], np.float32)
    full = prior.prior_logits(model, codes, positions)
    fast = prior.FastSampler(model, jit_compile=jit_compile).teacher_forced_logits(codes, positions)
    assert fast.shape == full.shape == (3, height, width, NUM_CODES)
    np.testing.assert_allclose(fast, full, atol=1e-5)


@pytest.mark.parametrize(
    ("conditional", "coordinates", "temperature", "top_k", "dilations"),
    [(False, False, 1.0, None, (1,)), (True, True, 0.7, 3, (1,)), (True, False, 1.0, None, (1, 2))],
)
def test_fast_and_naive_samplers_draw_identical_grids(
    conditional, coordinates, temperature, top_k, dilations
):
    model = _tiny(3, conditional, coordinates=coordinates, dilations=dilations)
    kwargs = {
        "positions": 0.3 if conditional else None,
        "temperature": temperature,
        "top_k": top_k,
        "seed": 11,
    }
    fast = prior.sample_codes(model, 4, 4, 5, **kwargs)
    naive = prior.sample_codes_naive(model, 4, 4, 5, **kwargs)
    np.testing.assert_array_equal(fast, naive)
    assert fast.dtype == np.int32 and fast.shape == (4, 4, 5)
    other_seed = prior.sample_codes(model, 4, 4, 5, **{**kwargs, "seed": 12})
    assert not np.array_equal(fast, other_seed)


def test_top_k_and_temperature_shape_the_draws():
    model = _tiny(2)
    # an untrained model's logits at (0, 0) are its zero biases (a tie): break the tie
    model.head_logits.bias.assign(np.linspace(-1.0, 1.0, NUM_CODES).astype(np.float32))
    # top_k = 1 is the argmax: the same grid for every seed
    first = prior.sample_codes(model, 2, 3, 3, top_k=1, seed=0)
    second = prior.sample_codes(model, 2, 3, 3, top_k=1, seed=1)
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="temperature"):
        prior.sample_codes(model, 1, 2, 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        prior.sample_codes(model, 1, 2, 2, top_k=NUM_CODES + 1)


# ---------------------------------------------------------------------------------------------
# saving, training
# ---------------------------------------------------------------------------------------------
def test_save_and_load_in_safe_mode(tmp_path):
    model = prior.compile_prior(_tiny(2, conditional=True, dilations=(1, 2)))
    codes = _random_codes(2, 4, 4)
    positions = np.array([0.2, 0.8], np.float32)
    before = prior.prior_logits(model, codes, positions)
    path = tmp_path / "prior.keras"
    model.save(path)
    loaded = prior.load_prior(path)
    assert loaded.get_config()["num_layers"] == 2 and loaded.conditional and loaded.coordinates
    assert loaded.dilations == (1, 2) and [block.dilation for block in loaded.blocks] == [1, 2]
    np.testing.assert_allclose(prior.prior_logits(loaded, codes, positions), before, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="04_pixelcnn_prior"):
        prior.load_prior(tmp_path / "missing.keras")


def _striped_codes(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Grids whose every row repeats one random code: predictable after the first column."""
    rng = np.random.default_rng(seed)
    return np.repeat(rng.integers(0, NUM_CODES, (count, height, 1)), width, axis=2).astype(np.int32)


def test_training_with_fit_learns_structure_and_refuses_another_configuration(tmp_path):
    codes = _striped_codes(64, 4, 6)
    model = prior.compile_prior(_tiny(2), learning_rate=1e-2)
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
    assert after < 0.6 * math.log2(NUM_CODES)
    other = prior.compile_prior(_tiny(3), learning_rate=1e-2)
    with pytest.raises(training.ConfigMismatchError, match="num_layers"):
        training.fit(
            other, dataset, tmp_path, epochs=4, steps_per_epoch=2, verbose=0, settings=settings
        )


def test_code_dataset_pairs_inputs_with_targets():
    codes = _random_codes(5, 3, 3)
    positions = np.linspace(0, 1, 5, dtype=np.float32)
    (inputs, batch_positions), targets = next(
        iter(prior.make_code_dataset(codes, positions, batch_size=5, shuffle=False))
    )
    np.testing.assert_array_equal(inputs, codes)
    np.testing.assert_array_equal(targets, codes)
    np.testing.assert_allclose(batch_positions, positions)
    with pytest.raises(ValueError, match="positions"):
        prior.make_code_dataset(codes, positions[:3])


# ---------------------------------------------------------------------------------------------
# likelihood and baselines
# ---------------------------------------------------------------------------------------------
def test_nll_maps_match_the_softmax_of_the_logits():
    model = _tiny(2, conditional=True)
    codes = _random_codes(3, 4, 5)
    positions = np.array([0.1, 0.5, 0.9], np.float32)
    maps = prior.nll_map_bits(model, codes, positions, batch_size=2)
    logits = prior.prior_logits(model, codes, positions).astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_softmax, codes[..., None], -1)[..., 0] / math.log(2)
    assert maps.shape == (3, 4, 5)
    np.testing.assert_allclose(maps, expected, rtol=1e-4)
    np.testing.assert_allclose(
        prior.nll_bits_per_slice(model, codes, positions), expected.mean((1, 2)), rtol=1e-4
    )
    assert prior.nll_bits_per_code(model, codes, positions) == pytest.approx(expected.mean(), 1e-4)


def test_uniform_and_unigram_baselines_on_known_distributions():
    codes = _random_codes(2, 3, 3)
    assert prior.UniformBaseline(NUM_CODES).nll_map_bits(codes).mean() == pytest.approx(
        math.log2(NUM_CODES)
    )
    # two codes with frequencies 3/4 and 1/4: entropy 0.811 bits
    skewed = np.zeros((4, 10, 10), np.int32)
    skewed[:, :, :] = np.array([0, 0, 0, 1] * 25).reshape(10, 10)
    unigram = prior.UnigramBaseline(NUM_CODES, smoothing=1e-6).fit(skewed)
    entropy = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert unigram.entropy_bits() == pytest.approx(entropy, abs=1e-4)
    assert unigram.nll_map_bits(skewed).mean() == pytest.approx(entropy, abs=1e-4)
    draws = unigram.sample(50, 10, 10, seed=0)
    assert abs((draws == 1).mean() - 0.25) < 0.02 and set(np.unique(draws)) <= {0, 1}


def test_neighbour_table_learns_a_deterministic_rule_and_samples_it():
    # c[i, j] = (c[i, j-1] + c[i-1, j]) mod K: deterministic given both neighbours
    rng = np.random.default_rng(0)
    count, size = 400, 8
    codes = np.zeros((count, size, size), np.int64)
    codes[:, 0, :] = rng.integers(0, NUM_CODES, (count, size))
    codes[:, :, 0] = rng.integers(0, NUM_CODES, (count, size))
    for row in range(1, size):
        for column in range(1, size):
            codes[:, row, column] = (codes[:, row, column - 1] + codes[:, row - 1, column]) % 7
    codes = codes.astype(np.int32)
    table = prior.NeighbourBaseline(NUM_CODES, smoothing=0.01).fit(codes)
    maps = table.nll_map_bits(codes)
    assert maps[:, 1:, 1:].max() < 0.01  # inside: determined by the neighbours
    assert maps[:, 0, 1:].mean() == pytest.approx(math.log2(NUM_CODES), abs=0.1)
    unigram_bits = prior.UnigramBaseline(NUM_CODES).fit(codes).nll_map_bits(codes).mean()
    assert maps.mean() < 0.5 * unigram_bits
    samples = table.sample(20, size, size, seed=1)
    inside = (samples[:, :-1, 1:] + samples[:, 1:, :-1]) % 7 == samples[:, 1:, 1:]
    assert inside.mean() > 0.97
    assert samples.min() >= 0 and samples.max() < NUM_CODES


def test_neighbour_table_smooths_unseen_contexts_towards_the_unigram():
    codes = np.zeros((2, 4, 4), np.int32)
    table = prior.NeighbourBaseline(NUM_CODES, smoothing=2.0).fit(codes)
    unseen = np.full((1, 4, 4), 3, np.int32)
    bits = table.nll_map_bits(unseen)
    assert np.isfinite(bits).all()
    # context (outside, outside) was seen twice with code 0: p(3) = 2 * p_uni(3) / (2 + 2)
    expected = -math.log2(2.0 * table.unigram.probabilities[3] / 4.0)
    assert bits[0, 0, 0] == pytest.approx(expected, rel=1e-5)


def test_an_unfitted_neighbour_table_samples_its_unigram_fallback():
    """No counts yet: every draw falls back on the unigram part (uniform before a fit),
    instead of indexing the empty table."""
    table = prior.NeighbourBaseline(NUM_CODES)
    samples = table.sample(50, 6, 6, seed=3)
    assert samples.shape == (50, 6, 6) and samples.dtype == np.int32
    counts = np.bincount(samples.ravel(), minlength=NUM_CODES)
    assert len(counts) == NUM_CODES and counts.min() > 0.5 * samples.size / NUM_CODES
    np.testing.assert_array_equal(samples, table.sample(50, 6, 6, seed=3))
    np.testing.assert_allclose(table.nll_map_bits(samples), math.log2(NUM_CODES), rtol=1e-6)


def test_receptive_field_pictures_show_the_blind_spot_and_its_removal():
    target = (6, 5)
    plain = prior.plain_pixelcnn_receptive_field(4, 3, 9, 11, target)
    gated = prior.receptive_field_map(_tiny(num_layers=4), 9, 11, target)
    # both see the code just left and just above; neither sees the position itself
    for field in (plain, gated):
        assert field[6, 4] and field[5, 5] and not field[target]
        assert not field[7:].any() and not field[6, 5:].any()
    # the plain stack misses the upper right (its blind spot); the gated one sees it
    assert not plain[5, 8] and gated[5, 8]
    assert gated.sum() > plain.sum()


def test_neighbour_table_chooses_its_smoothing_on_validation_grids():
    rng = np.random.default_rng(2)
    train = rng.integers(0, NUM_CODES, (30, 6, 6)).astype(np.int32)
    validation = rng.integers(0, NUM_CODES, (10, 6, 6)).astype(np.int32)
    table = prior.NeighbourBaseline(NUM_CODES).fit(train, validation_codes=validation)
    scores = table.validation_scores
    assert set(scores) == set(prior.SMOOTHING_CANDIDATES)
    assert table.smoothing == min(scores, key=scores.get)
    # random codes: the neighbours carry no information, so heavy smoothing wins
    assert table.smoothing == max(prior.SMOOTHING_CANDIDATES)
    expected = table.nll_map_bits(validation).mean()
    assert expected == pytest.approx(scores[table.smoothing])


def test_dilations_repeat_over_the_blocks_and_widen_the_receptive_field():
    plain = _tiny(num_layers=4)
    dilated = _tiny(num_layers=4, dilations=(1, 2))
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
            _tiny(dilations=bad)


def test_notebook_04_reads_its_defaults_from_the_package():
    """One source of truth: the parameters cell names every prior and training default
    by its key in ``prior.DEFAULT_PRIOR`` / ``prior.DEFAULT_PRIOR_TRAINING``."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "04_pixelcnn_prior.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    (parameters_cell,) = [
        "".join(cell["source"])
        for cell in cells
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    for key in set(prior.DEFAULT_PRIOR) - {"num_embeddings"}:  # K comes from notebook 03
        assert f'{key} = prior.DEFAULT_PRIOR["{key}"]' in parameters_cell, key
    for key in prior.DEFAULT_PRIOR_TRAINING:
        assert f'{key} = prior.DEFAULT_PRIOR_TRAINING["{key}"]' in parameters_cell, key
