"""Tests of oasis_helpers.metrics.brain: brain masks, their boxes, and SSIM/PSNR inside them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from oasis_fixtures import brain_images

from oasis_helpers import metrics


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
    images = brain_images(count=2, size=64)
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
