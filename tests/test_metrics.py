"""SSIM/PSNR (whole image and brain), brain masks, codebook and sample-quality metrics against
known values."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from oasis_helpers import metrics


def _brain_images(count: int = 3, size: int = 48, seed: int = 0) -> np.ndarray:
    """A bright textured disk (the "brain") on a black background: [N, size, size, 1]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    disk = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 < (size / 4) ** 2
    texture = 0.4 + 0.4 * rng.random((count, size, size))
    return (texture * disk)[..., None].astype(np.float32)


def test_identical_images_give_ssim_one_and_infinite_psnr():
    images = _brain_images()
    np.testing.assert_allclose(metrics.ssim_per_slice(images, images), 1.0, atol=1e-6)
    np.testing.assert_allclose(metrics.brain_ssim_per_slice(images, images), 1.0, atol=1e-6)
    assert np.all(np.isinf(metrics.psnr_per_slice(images, images)))
    assert np.all(np.isinf(metrics.brain_psnr_per_slice(images, images)))
    # means cap every slice so that a perfect slice does not make the average infinite
    assert metrics.psnr(images, images) == metrics.MAX_PSNR
    assert metrics.ssim(images, images) == pytest.approx(1.0, abs=1e-6)


def test_psnr_of_a_known_offset_follows_the_formula():
    images = np.full((2, 32, 32, 1), 0.5, np.float32)
    images[1] = 0.25
    offset = 0.1  # MSE = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB
    values = metrics.psnr_per_slice(images, images + offset)
    np.testing.assert_allclose(values, 20.0, atol=1e-3)
    # with max_val 2 the peak term grows by 20 log10(2)
    np.testing.assert_allclose(
        metrics.psnr_per_slice(images, images + offset, max_val=2.0),
        20.0 + 20 * math.log10(2.0),
        atol=1e-3,
    )


def test_psnr_of_gaussian_noise_matches_the_measured_mse():
    rng = np.random.default_rng(1)
    images = rng.uniform(0.2, 0.8, (4, 40, 40, 1)).astype(np.float32)
    noisy = images + rng.normal(0, 0.05, images.shape).astype(np.float32)
    mse = np.mean((images.astype(np.float64) - noisy) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(metrics.psnr_per_slice(images, noisy), 10 * np.log10(1 / mse), 1e-4)
    # about 26 dB for sigma = 0.05
    assert metrics.psnr(images, noisy) == pytest.approx(-20 * math.log10(0.05), abs=0.3)


def test_brain_psnr_with_a_full_mask_equals_tf_psnr():
    rng = np.random.default_rng(2)
    images = rng.uniform(0.3, 1.0, (3, 24, 24, 1)).astype(np.float32)  # every pixel is brain
    noisy = np.clip(images + rng.normal(0, 0.03, images.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(
        metrics.brain_psnr_per_slice(images, noisy),
        tf.image.psnr(images, noisy, max_val=1.0).numpy(),
        rtol=1e-4,
    )


def test_brain_mask_threshold_and_dilation():
    image = np.zeros((1, 20, 20, 1), np.float32)
    image[0, 10, 10] = 0.5
    image[0, 2, 2] = 0.01  # below the 0.02 threshold: background
    mask = metrics.brain_mask(image, dilation=0)
    assert mask.shape == (1, 20, 20) and mask.sum() == 1 and mask[0, 10, 10]
    dilated = metrics.brain_mask(image, dilation=2)
    assert dilated.sum() == 25 and dilated[0, 8:13, 8:13].all()
    with pytest.raises(ValueError, match="dilation"):
        metrics.brain_mask(image, dilation=-1)


def test_bounding_boxes_are_tight_and_at_least_the_ssim_window():
    mask = np.zeros((3, 64, 64), bool)
    mask[0, 10:40, 20:50] = True
    mask[1, 0:2, 62:64] = True  # tiny, in a corner: grown to 11x11 inside the image
    boxes = metrics.brain_bounding_boxes(mask)
    assert tuple(boxes[0]) == (10, 20, 30, 30)
    top, left, height, width = boxes[1]
    assert (height, width) == (11, 11) and top == 0 and left + width == 64
    assert tuple(boxes[2]) == (0, 0, 0, 0)  # empty mask


def test_brain_ssim_is_tf_ssim_on_the_bounding_box():
    images = _brain_images(count=2, size=64)
    rng = np.random.default_rng(3)
    noisy = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1).astype(np.float32)
    noisy[images == 0] = 0  # the background is reconstructed perfectly
    boxes = metrics.brain_bounding_boxes(metrics.brain_mask(images))
    expected = [
        tf.image.ssim(
            images[i, top : top + h, left : left + w],
            noisy[i, top : top + h, left : left + w],
            max_val=1.0,
        ).numpy()
        for i, (top, left, h, w) in enumerate(boxes)
    ]
    brain = metrics.brain_ssim_per_slice(images, noisy)
    np.testing.assert_allclose(brain, expected, rtol=1e-5)
    # the perfect background inflates the whole-image score, not the brain score
    assert np.all(brain < metrics.ssim_per_slice(images, noisy))
    assert np.all(brain < 0.95)


def test_slices_without_brain_are_nan_and_skipped_by_the_means():
    images = _brain_images(count=2, size=32)
    images[1] = 0.0
    predictions = images * 0.9
    result = metrics.evaluate_reconstructions(images, predictions)
    assert np.isnan(result["per_slice"]["ssim_brain"][1])
    assert np.isnan(result["per_slice"]["psnr_brain"][1])
    assert result["ssim_brain"] == pytest.approx(result["per_slice"]["ssim_brain"][0])
    assert set(result) == {"per_slice", "ssim", "ssim_brain", "psnr", "psnr_brain"}
    # the empty slice is reproduced exactly: PSNR inf, capped in the mean
    assert result["psnr"] == pytest.approx((min(result["per_slice"]["psnr"][0], 100.0) + 100.0) / 2)


def test_single_slices_and_shape_errors():
    image = _brain_images(count=1, size=32)[0]  # [H, W, 1]
    assert metrics.ssim_per_slice(image, image).shape == (1,)
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.ssim(np.zeros((2, 32, 32, 1)), np.zeros((2, 32, 16, 1)))
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.psnr(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        metrics.ssim(np.zeros((32, 32)), np.zeros((32, 32)))


def test_perplexity_and_codebook_usage_from_indices():
    uniform = np.arange(64).reshape(4, 4, 4) % 16  # all 16 codes, equally often
    assert metrics.perplexity(uniform, 16) == pytest.approx(16.0, rel=1e-5)
    assert metrics.codebook_usage(uniform, 32) == pytest.approx(0.5)
    single = np.full((2, 8, 8), 3)
    assert metrics.perplexity(single, 16) == pytest.approx(1.0)
    assert metrics.codebook_usage(single, 16) == pytest.approx(1 / 16)
    two = np.array([0, 0, 0, 1])  # p = (3/4, 1/4)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert metrics.perplexity(two, 4) == pytest.approx(math.exp(entropy), rel=1e-5)
    np.testing.assert_array_equal(metrics.code_histogram(two, 4), [3, 1, 0, 0])


def test_code_statistics_of_code_grids_are_the_single_metrics_at_once():
    grids = np.array([[[0, 0], [0, 1]], [[1, 1], [3, 0]]])  # two 2x2 grids: 4 x 0, 3 x 1, 1 x 3
    statistics = metrics.code_statistics(grids, 5)
    np.testing.assert_array_equal(statistics["counts"], [4, 3, 0, 1, 0])
    assert statistics["counts"].dtype == np.int64
    assert statistics["codebook_usage"] == metrics.codebook_usage(grids, 5) == pytest.approx(0.6)
    assert statistics["code_perplexity"] == metrics.perplexity(grids, 5)
    entropy = -sum(p * math.log(p) for p in (4 / 8, 3 / 8, 1 / 8))
    assert statistics["code_perplexity"] == pytest.approx(math.exp(entropy), rel=1e-5)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        metrics.code_statistics(grids, 3)


def test_codebook_metrics_reject_bad_indices():
    with pytest.raises(ValueError, match=r"lie in \[0, 7\]"):
        metrics.perplexity(np.array([0, 8]), 8)
    with pytest.raises(ValueError, match="integers"):
        metrics.codebook_usage(np.array([0.5]), 8)
    with pytest.raises(ValueError, match="no code indices"):
        metrics.codebook_usage(np.array([], dtype=np.int32), 8)


def test_codebook_health_over_a_whole_set_on_a_hand_case():
    from oasis_helpers.quantizer import VectorQuantizer

    layer = VectorQuantizer(3, 2, init=None, dead_code_steps=None, seed=0)
    layer.set_codebook([[0.0, 0.0], [1.0, 1.0], [9.0, 9.0]])
    vectors = np.array([[0.1, 0.0], [0.0, 0.1], [1.0, 0.8], [0.9, 1.0]], np.float32)
    # small batches: the statistics come from one histogram over all vectors, not per batch
    health = metrics.codebook_health(layer, vectors, batch_size=1)
    np.testing.assert_array_equal(health["counts"], [2, 2, 0])
    assert health["codebook_usage"] == pytest.approx(2 / 3)
    assert health["code_perplexity"] == pytest.approx(2.0, rel=1e-6)  # a batch of 1 gives 1
    assert health["reconstruction_mse"] == pytest.approx((0.01 * 3 + 0.04) / 8, rel=1e-5)
    assert health["code_perplexity"] == pytest.approx(
        metrics.perplexity(np.array([0, 0, 1, 1]), 3), rel=1e-6
    )
    with pytest.raises(ValueError, match=r"\[M, D\]"):
        metrics.codebook_health(layer, np.zeros((0, 2), np.float32))


# ---------------------------------------------------------------------------------------------
# sample quality (notebook 04)
# ---------------------------------------------------------------------------------------------
def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4000, 3))
    assert metrics.frechet_distance(first, rng.normal(size=(4000, 3))) < 0.02
    shifted = rng.normal(size=(4000, 3)) + np.array([2.0, 0.0, 0.0])
    assert metrics.frechet_distance(first, shifted) == pytest.approx(4.0, abs=0.15)
    # N(0, 1) vs N(0, 4) in one dimension: (1 - 2)^2 = 1
    wide = rng.normal(size=(4000, 1)) * 2.0
    assert metrics.frechet_distance(first[:, :1], wide) == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="feature sets"):
        metrics.frechet_distance(first, first[:, :2])


def test_diversity_and_nearest_ssim():
    rng = np.random.default_rng(0)
    images = rng.random((6, 32, 32, 1)).astype(np.float32)
    copies = np.repeat(images[:1], 4, axis=0)
    assert metrics.mean_pairwise_ssim(copies) == pytest.approx(1.0, abs=1e-4)
    assert metrics.mean_pairwise_ssim(images) < 0.2
    nearest = metrics.nearest_ssim(images[:3] * 0.999, images, candidates=2)
    assert nearest.shape == (3,) and np.all(nearest > 0.99)
    strangers = metrics.nearest_ssim(rng.random((3, 32, 32, 1)).astype(np.float32), images)
    assert np.all(strangers < 0.2)


def test_encoder_features_pool_the_pre_quantisation_output():
    from oasis_helpers import models

    keras.utils.set_random_seed(0)
    vqvae = models.VQVAE(
        image_size=16,
        channels=(4, 4),
        num_residual_blocks=1,
        residual_channels=4,
        num_embeddings=8,
        embedding_dim=3,
    )
    images = np.random.default_rng(0).random((5, 16, 16, 1)).astype(np.float32)
    features = metrics.encoder_features(vqvae, images, grid=2, batch_size=2)
    assert features.shape == (5, 3 * (2 * 2 + 1))
    z_e = np.asarray(vqvae.encoder(images))
    np.testing.assert_allclose(features[:, -3:], z_e.std(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        features[:, :3], z_e[:, :2, :2].mean(axis=(1, 2)), rtol=1e-4, atol=1e-6
    )


def test_metrics_and_quantizer_import_no_model_module():
    """Imports point one way: the metrics take models as arguments and import none."""
    import subprocess
    import sys

    code = (
        "import sys; from oasis_helpers import metrics; "
        "print(sorted(m for m in sys.modules if m.startswith('oasis_helpers.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['oasis_helpers.metrics', 'oasis_helpers.quantizer']"
