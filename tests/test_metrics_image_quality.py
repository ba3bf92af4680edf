"""Tests of oasis_helpers.metrics.image_quality: whole-image SSIM and PSNR against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oasis_fixtures import brain_images

from oasis_helpers import metrics


def test_identical_images_give_ssim_one_and_infinite_psnr():
    images = brain_images()
    np.testing.assert_allclose(metrics.ssim_per_slice(images, images), 1.0, atol=1e-6)
    np.testing.assert_allclose(metrics.brain_ssim_per_slice(images, images), 1.0, atol=1e-6)
    assert np.all(np.isinf(metrics.psnr_per_slice(images, images)))
    assert np.all(np.isinf(metrics.brain_psnr_per_slice(images, images)))
    # means cap every slice so that a perfect slice does not make the average infinite
    assert metrics.psnr(images, images) == metrics.MAX_PSNR
    assert metrics.ssim(images, images) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("shape, max_val", [((3, 40, 56, 1), 1.0), ((2, 33, 33, 2), 255.0)])
def test_ssim_is_tf_image_ssim(shape, max_val):
    import tensorflow as tf

    rng = np.random.default_rng(7)
    targets = (rng.random(shape) * max_val).astype(np.float32)
    predictions = np.clip(targets + rng.normal(0, 0.1 * max_val, shape), 0, max_val)
    predictions = predictions.astype(np.float32)
    predictions[0] = targets[0] * 0.5  # a darker copy: luminance term only
    expected = tf.image.ssim(targets, predictions, max_val=max_val).numpy()
    values = metrics.ssim_per_slice(targets, predictions, max_val)
    np.testing.assert_allclose(values, expected, atol=2e-6)
    assert np.ptp(values) > 0.1  # the cases differ, so the comparison means something


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


def test_single_slices_and_shape_errors():
    image = brain_images(count=1, size=32)[0]  # [H, W, 1]
    assert metrics.ssim_per_slice(image, image).shape == (1,)
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.ssim(np.zeros((2, 32, 32, 1)), np.zeros((2, 32, 16, 1)))
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.psnr(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        metrics.ssim(np.zeros((32, 32)), np.zeros((32, 32)))
