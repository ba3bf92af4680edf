"""Synthetic lesions and the brain region (oasis_helpers.anomaly.lesions), on the brain-like
phantoms of tests/oasis_fixtures.py."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import anomaly

SIZE = 64


def _phantoms(count: int = 8, size: int = SIZE) -> np.ndarray:
    """Brain-like phantom slices, float32 [count, size, size, 1] in [0, 1]."""
    slices = [fx.phantom_slice(size, seed=seed)[0] for seed in range(count)]
    return (np.stack(slices)[..., None] / 255.0).astype(np.float32)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lesions_per_slice": 3, "max_area_fraction": 0.1},
        {"bright_probability": 0.0, "contrast_range": (0.05, 0.1)},
        {"bright_probability": 1.0, "contrast_range": (0.9, 1.0), "softness": 2.0},
    ],
)
def test_lesion_masks_are_exactly_the_changed_pixels(options):
    images = _phantoms()
    lesioned, masks = anomaly.synthesize_lesions(images, seed=7, **options)
    assert lesioned.shape == images.shape and lesioned.dtype == np.float32
    assert masks.shape == images.shape[:3] and masks.dtype == bool
    np.testing.assert_array_equal(masks, lesioned[..., 0] != images[..., 0])
    assert masks.any(axis=(1, 2)).all()  # every slice got a lesion (lesion_fraction 1)
    assert lesioned.min() >= 0.0 and lesioned.max() <= 1.0
    # lesions lie inside the eroded brain tissue
    assert not np.any(masks & ~anomaly.brain_region(images))


def test_lesion_masks_leave_out_pixels_that_clipping_kept_unchanged():
    rows, cols = np.mgrid[:SIZE, :SIZE]
    saturated = np.where(np.hypot(rows - 32, cols - 32) < 24, 1.0, 0.0).astype(np.float32)
    saturated[:, 32:] *= 0.7  # left half already at the top of the range
    images = np.repeat(saturated[None, ..., None], 6, axis=0)
    lesioned, masks = anomaly.synthesize_lesions(
        images, seed=0, bright_probability=1.0, max_area_fraction=0.2
    )
    np.testing.assert_array_equal(masks, lesioned[..., 0] != images[..., 0])
    assert masks.any() and not masks[:, :, :32].any()  # bright on white: nothing changes


def test_lesions_are_seeded_and_vary_in_size_and_sign():
    images = _phantoms(count=24)
    first = anomaly.synthesize_lesions(images, seed=3)
    again = anomaly.synthesize_lesions(images, seed=3)
    other = anomaly.synthesize_lesions(images, seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    areas = first[1].sum(axis=(1, 2))
    brain = anomaly.brain_region(images).sum(axis=(1, 2))
    assert areas.min() < 30  # a few pixels ...
    assert areas.max() > 0.01 * brain.mean()  # ... to a percent or more of the brain
    assert np.all(areas <= 0.04 * 1.6 * brain)  # about max_area_fraction at most
    change = (first[0] - images)[..., 0]
    signs = [np.sign(change[index][first[1][index]].mean()) for index in range(len(images))]
    assert set(signs) == {-1.0, 1.0}  # bright and dark lesions


def test_lesion_fraction_leaves_clean_slices_untouched_and_one_slice_works():
    images = _phantoms(count=12)
    lesioned, masks = anomaly.synthesize_lesions(images, seed=1, lesion_fraction=0.5)
    has_lesion = masks.any(axis=(1, 2))
    assert 0 < has_lesion.sum() < len(images)
    np.testing.assert_array_equal(lesioned[~has_lesion], images[~has_lesion])
    none, no_masks = anomaly.synthesize_lesions(images, seed=1, lesion_fraction=0.0)
    np.testing.assert_array_equal(none, images)
    assert not no_masks.any()
    one, one_mask = anomaly.synthesize_lesions(images[0, ..., 0], seed=2)
    assert one.shape == (SIZE, SIZE) and one_mask.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(one_mask, one != images[0, ..., 0])
    assert one_mask.any()
    with_channel, channel_mask = anomaly.synthesize_lesions(images[0], seed=2)  # [H, W, 1]
    assert with_channel.shape == (SIZE, SIZE, 1)
    np.testing.assert_array_equal(with_channel[..., 0], one)
    np.testing.assert_array_equal(channel_mask, one_mask)


def test_lesion_synthesiser_rejects_bad_input():
    images = _phantoms(count=2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        anomaly.synthesize_lesions(images * 255.0, seed=0)
    with pytest.raises(ValueError, match="lesion_fraction"):
        anomaly.synthesize_lesions(images, seed=0, lesion_fraction=1.5)
    with pytest.raises(ValueError, match="contrast_range"):
        anomaly.synthesize_lesions(images, seed=0, contrast_range=(0.5, 0.1))
    with pytest.raises(ValueError, match="shape"):
        anomaly.synthesize_lesions(np.zeros((2, 3, 4, 5, 1)), seed=0)


def test_brain_region_fills_holes_and_erodes_by_the_radius():
    rows, cols = np.mgrid[:41, :41]
    radius = np.hypot(rows - 20, cols - 20)
    image = np.where(radius <= 15, 0.8, 0.0).astype(np.float32)
    image[radius <= 4] = 0.0  # a dark "ventricle" inside the brain
    region = anomaly.brain_region(image[None, ..., None], erosion=3)[0]
    assert region[20, 20]  # the hole is filled
    assert region[20, 20 + 12] and not region[20, 20 + 13]  # 15 - 3 = 12
    np.testing.assert_array_equal(anomaly.brain_region(image, erosion=0), radius <= 15)
