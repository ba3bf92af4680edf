"""The two-level ("layout then texture") prior: top codes, the layout input of the fine
prior, its causality, training and sampling (:mod:`oasis_helpers.prior.layout`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from oasis_helpers import prior
from oasis_helpers.code_grids import CodeGrids, CodeSplit
from oasis_helpers.prior import layout

K, K_TOP, BLOCK, SIDE = 6, 4, 2, 8
TINY = {
    "hidden_channels": 8,
    "num_layers": 2,
    "head_channels": 16,
    "dilations": (1, 2),
    "feature_frequencies": (1,),
}


def _fine(**config):
    return prior.make_prior(
        **{**TINY, "num_embeddings": K, **config}, top_codes=K_TOP, top_factor=BLOCK
    )


def _codes(count, seed=0, side=SIDE):
    return np.random.default_rng(seed).integers(0, K, (count, side, side)).astype(np.int32)


def _top(count, seed=1, side=SIDE):
    side //= BLOCK
    return np.random.default_rng(seed).integers(0, K_TOP, (count, side, side)).astype(np.int32)


def test_block_summaries_are_block_means_of_codebook_vectors():
    codebook = np.arange(K * 2, dtype=np.float32).reshape(K, 2)
    codes = _codes(3)
    summaries = layout.block_summaries(codes, codebook, BLOCK)
    assert summaries.shape == (3, SIDE // BLOCK, SIDE // BLOCK, 2)
    block = codes[1, 2:4, 4:6]
    np.testing.assert_allclose(summaries[1, 1, 2], codebook[block].mean(axis=(0, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="multiples"):
        layout.block_summaries(codes[:, :7, :7], codebook, BLOCK)


def test_top_codes_are_deterministic_and_nearest_centres():
    codebook = np.random.default_rng(3).normal(size=(K, 3)).astype(np.float32)
    codes = _codes(20)
    first = layout.fit_top_quantizer(codes, codebook, BLOCK, K_TOP, seed=5)
    second = layout.fit_top_quantizer(codes, codebook, BLOCK, K_TOP, seed=5)
    np.testing.assert_array_equal(first.centres, second.centres)
    top = first(codes)
    assert top.shape == (20, SIDE // BLOCK, SIDE // BLOCK) and top.dtype == np.int32
    assert 0 <= top.min() and top.max() < K_TOP
    summaries = layout.block_summaries(codes, codebook, BLOCK).reshape(-1, 3)
    brute = ((summaries[:, None] - first.centres[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(top.reshape(-1), brute)


def test_default_prior_is_unchanged_by_the_layout_option():
    model = prior.GatedPixelCNN(**{**TINY, "num_embeddings": K})
    assert "top_codes" not in model.get_config()
    assert not any("top" in weight.path for weight in model.weights)
    with pytest.raises(ValueError, match="no top_codes"):
        model((_codes(1), np.zeros(1, np.float32), _top(1)))


def test_fine_prior_is_causal_in_the_fine_grid_and_sees_the_whole_top_grid():
    model = _fine()
    codes, top, heights = _codes(1), _top(1), np.full(1, 0.5, np.float32)
    base = np.asarray(model((codes, heights, top)))
    assert base.shape == (1, SIDE, SIDE, K)
    i, j = 4, 3
    changed = codes.copy()
    changed[0, i, j] = (codes[0, i, j] + 1) % K
    delta = np.abs(np.asarray(model((changed, heights, top))) - base).max(-1)[0]
    order = np.arange(SIDE * SIDE).reshape(SIDE, SIDE)
    assert delta[order <= i * SIDE + j].max() == 0  # nothing at or before (i, j) moves
    assert delta[order > i * SIDE + j].max() > 0
    moved = top.copy()
    moved[0, -1, -1] = (top[0, -1, -1] + 1) % K_TOP  # the last top cell ...
    delta = np.abs(np.asarray(model((codes, heights, moved))) - base).max(-1)[0]
    assert delta[-BLOCK:, -BLOCK:].min() > 0  # ... moves every position of its block
    # and positions before that block in raster order: the layout is known ahead (through
    # the 3x3 convolution over the top grid, its neighbouring cells' positions)
    assert delta[SIDE - 2 * BLOCK, SIDE - 2 * BLOCK] > 0
    assert delta[: SIDE - 2 * BLOCK].max() == 0  # beyond the 3x3 neighbours: nothing
    with pytest.raises(ValueError, match="layout"):
        model((codes, heights))


def test_fine_prior_reloads_and_fast_sampler_matches_full_pass(tmp_path):
    model = _fine()
    codes, top, heights = _codes(2), _top(2), np.array([0.2, 0.8], np.float32)
    path = tmp_path / "fine.keras"
    model.save(path)
    loaded = prior.load_prior(path, compile=False)
    assert loaded.top_codes == K_TOP and loaded.top_factor == BLOCK
    full = np.asarray(model((codes, heights, top)))
    np.testing.assert_allclose(np.asarray(loaded((codes, heights, top))), full, atol=1e-5)
    cached = prior.fast_sampler(model).teacher_forced_logits(codes, heights, top)
    np.testing.assert_allclose(cached, full, atol=1e-4)
    fast = prior.sample_codes(model, 2, SIDE, SIDE, heights, seed=3, top_codes=top)
    naive = prior.sample_codes_naive(model, 2, SIDE, SIDE, heights, seed=3, top_codes=top)
    np.testing.assert_array_equal(fast, naive)
    with pytest.raises(ValueError, match="shape"):
        prior.sample_codes(model, 2, SIDE, SIDE, heights, top_codes=top[:, :1])


def test_tiny_two_level_model_trains_in_graph_mode_and_samples_valid_codes(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # fine grids whose blocks repeat one code: the top grid tells the fine prior everything
    coarse = rng.integers(0, K, (48, SIDE // BLOCK, SIDE // BLOCK))
    codes = np.repeat(np.repeat(coarse, BLOCK, 1), BLOCK, 2).astype(np.int32)
    heights = rng.uniform(0, 1, 48).astype(np.float32)

    def split(index):
        count = len(index)
        return CodeSplit(
            codes[index], np.array(["s"] * count), np.arange(count, dtype=np.int32), heights[index]
        )

    grids = CodeGrids(
        {"train": split(np.arange(40)), "validate": split(np.arange(40, 48))},
        num_embeddings=K,
        embedding_dim=3,
        downsample=4,
        image_size=SIDE * 4,
        path=tmp_path / "codes.npz",
    )
    codebook = np.eye(K, 3, dtype=np.float32) + np.arange(K)[:, None]
    quantizer = layout.fit_top_quantizer(grids["train"].codes, codebook, BLOCK, K_TOP, seed=0)
    top, fine = layout.make_two_level_priors(K, K_TOP, BLOCK, **TINY)
    before = layout.two_level_nll(top, fine, quantizer, codes[40:], heights[40:])
    steps = {"epochs": 3, "steps_per_epoch": 10, "batch_size": 8, "seed": 0, "learning_rate": 1e-2}
    settings = {"top": steps, "fine": steps}
    top_result, fine_result = layout.train_two_level(
        top, fine, grids, quantizer, tmp_path / "training", settings, verbose=0
    )
    assert not fine.run_eagerly  # trained as compiled graphs, as notebook 04 trains
    losses = fine_result.history["loss"]
    assert losses[-1] < losses[0] and top_result.history["loss"][-1] < top_result.history["loss"][0]
    after = layout.two_level_nll(top, fine, quantizer, codes[40:], heights[40:])
    assert after["fine_bits_per_code_given_top"] < before["fine_bits_per_code_given_top"]
    assert after["total_bits_per_code"] == pytest.approx(
        after["fine_bits_per_code_given_top"] + after["top_bits_per_top_code"] / BLOCK**2
    )
    fine_codes, layouts = layout.sample_two_level(
        top, fine, 3, SIDE, SIDE, BLOCK, np.full(3, 0.5, np.float32), seed=1
    )
    assert fine_codes.shape == (3, SIDE, SIDE) and layouts.shape == (
        3,
        SIDE // BLOCK,
        SIDE // BLOCK,
    )
    assert 0 <= fine_codes.min() and fine_codes.max() < K
    assert 0 <= layouts.min() and layouts.max() < K_TOP


def test_decode_layout_repeats_each_centre_over_its_block():
    codebook = np.random.default_rng(4).normal(size=(K, 3)).astype(np.float32)
    quantizer = layout.fit_top_quantizer(_codes(10), codebook, BLOCK, K_TOP, seed=0)

    class Decoder:  # stands in for the VQ-VAE's decoder: the first channel of its input
        def decoder(self, field, training=False):
            return field[..., :1]

    top = _top(2)
    images = layout.decode_layout(Decoder(), quantizer, top)
    assert images.shape == (2, SIDE, SIDE, 1)
    np.testing.assert_allclose(images[1, 2:4, 4:6, 0], quantizer.centres[top[1, 1, 2], 0])
    with pytest.raises(ValueError, match="top_codes"):
        layout.decode_layout(Decoder(), quantizer, top + K_TOP)
