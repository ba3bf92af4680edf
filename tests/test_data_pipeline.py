"""tf.data pipelines, augmentation, brain crops and patch samples (oasis_helpers.data.pipeline).

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


@pytest.fixture(scope="module")
def small_split():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(10, 16, 16, 1)).astype(np.float32)
    images[:, :, :4] = 0.0
    masks = (images[..., 0] * 4).astype(np.uint8).clip(0, 3)
    return data.SliceSplit.from_float_images(
        images,
        subject_ids=np.array([f"s{i // 2}" for i in range(10)]),
        slice_ids=np.arange(10, dtype=np.int32) % 2,
        masks=masks,
        files=[f"f{i}" for i in range(10)],
    )


def test_make_dataset_shapes_dtypes_and_one_pass_per_epoch(small_split):
    dataset = data.make_dataset(small_split, batch_size=4, seed=1)
    batches = [batch.numpy() for batch in dataset]
    assert [batch.shape for batch in batches] == [(4, 16, 16, 1), (4, 16, 16, 1), (2, 16, 16, 1)]
    assert all(batch.dtype == np.float32 for batch in batches)
    seen = np.concatenate(batches)
    # every slice exactly once, in a shuffled order
    order = [
        int(np.argmin(np.abs(small_split.float_images() - image).sum(axis=(1, 2, 3))))
        for image in seen
    ]
    assert sorted(order) == list(range(10))
    assert order != list(range(10))
    again = np.concatenate([batch.numpy() for batch in data.make_dataset(small_split, 4, seed=1)])
    np.testing.assert_array_equal(seen, again)


def test_make_dataset_without_shuffle_keeps_order_and_drops_remainder(small_split):
    dataset = data.make_dataset(small_split, batch_size=4, shuffle=False, drop_remainder=True)
    batches = [batch.numpy() for batch in dataset]
    assert len(batches) == 2
    np.testing.assert_array_equal(np.concatenate(batches), small_split.images[:8])
    assert np.abs(np.concatenate(batches) - small_split.float_images(slice(0, 8))).max() == 0


def test_make_dataset_with_masks_and_repeat(small_split):
    dataset = data.make_dataset(small_split, batch_size=3, with_masks=True, repeat=True)
    for images, masks in dataset.take(5):
        assert images.shape == (3, 16, 16, 1) and masks.shape == (3, 16, 16)
        assert masks.dtype.name == "uint8"


def test_make_dataset_augmentation_is_seeded_and_keeps_masks_aligned(small_split):
    def run(seed):
        dataset = data.make_dataset(
            small_split, 10, shuffle=False, seed=seed, augment=True, with_masks=True, max_shift=2
        )
        images, masks = next(iter(dataset))
        return images.numpy(), masks.numpy()

    images, masks = run(5)
    again, masks_again = run(5)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(masks, masks_again)
    assert not np.array_equal(run(6)[0], images)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert not np.array_equal(images, small_split.float_images())
    # geometry is shared: where the augmented image is exactly background so is the mask
    # (the phantom's masks are 0 where the image is below 0.25)
    assert np.all(masks[images[..., 0] == 0.0] == 0)


def test_make_dataset_rejects_bad_requests(small_split):
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(small_split, 0)
    no_masks = data.SliceSplit(
        small_split.pixels, small_split.subject_ids, small_split.slice_ids, None, small_split.files
    )
    with pytest.raises(ValueError, match="no masks"):
        data.make_dataset(no_masks, 2, with_masks=True)


def test_make_file_dataset_decodes_pngs(png_root):
    files = sorted(str(path) for path in (png_root / "keras_png_slices_train").glob("*.png"))
    dataset = data.make_file_dataset(files, image_size=32, batch_size=5, shuffle=False)
    batches = [batch.numpy() for batch in dataset]
    assert [batch.shape for batch in batches] == [(5, 32, 32, 1), (5, 32, 32, 1), (2, 32, 32, 1)]
    loaded = data.load_slices(png_root, image_size=32)
    by_file = dict(zip(loaded.splits["train"].files, loaded.splits["train"].images, strict=True))
    np.testing.assert_allclose(batches[0][0], by_file[files[0]], atol=0.03)
    stats = data.measure_pipeline(dataset)
    assert stats["images"] == 12 and stats["images_per_second"] > 0


def test_augment_batch_only_flips_left_right_without_shift_or_intensity(small_split):
    import tensorflow as tf

    images = tf.constant(small_split.float_images())
    masks = tf.constant(small_split.masks)
    out, out_masks = data.augment_batch(images, masks, tf.constant([1, 2]), 0, 0.0)
    out, out_masks = out.numpy(), out_masks.numpy()
    flipped = 0
    for index in range(len(small_split)):
        original = small_split.images[index]
        if np.allclose(out[index], original[:, ::-1], atol=1e-5) and not np.allclose(
            out[index], original, atol=1e-5
        ):
            flipped += 1
            np.testing.assert_array_equal(out_masks[index], small_split.masks[index][:, ::-1])
        else:
            np.testing.assert_allclose(out[index], original, atol=1e-6)
            np.testing.assert_array_equal(out_masks[index], small_split.masks[index])
    assert 0 < flipped < len(small_split)


def test_augment_batch_shift_fills_with_zeros(small_split):
    import tensorflow as tf

    images = tf.ones((6, 16, 16, 1))
    out = data.augment_batch(images, None, tf.constant([3, 4]), 3, 0.0).numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    zero_rows = (out[..., 0] == 0).all(axis=2).sum(axis=1)
    zero_columns = (out[..., 0] == 0).all(axis=1).sum(axis=1)
    assert np.all(zero_rows <= 3) and np.all(zero_columns <= 3)
    assert (zero_rows + zero_columns).sum() > 0


def test_pipeline_batches_equal_the_float_images_of_the_split(small_split):
    batches = [batch.numpy() for batch in data.make_dataset(small_split, 3, shuffle=False)]
    expected = small_split.float_images()
    np.testing.assert_array_equal(np.concatenate(batches), expected)
    assert all(batch.dtype == np.float32 for batch in batches)
    # the float accessors agree with each other and with pixels / 255
    np.testing.assert_array_equal(small_split.images[[4, 1]], expected[[4, 1]])
    np.testing.assert_array_equal(small_split.float_images([4, 1]), expected[[4, 1]])
    np.testing.assert_array_equal(np.asarray(small_split.images), expected)
    assert small_split.images[2].shape == (16, 16, 1)


def test_sample_patches_cut_row_major_non_overlapping_patches():
    images = np.arange(2 * 8 * 8, dtype="float32").reshape(2, 8, 8, 1)
    patches = data.sample_patches(images, patch_size=4)
    assert patches.shape == (8, 16) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches[0], images[0, :4, :4, 0].ravel())
    np.testing.assert_array_equal(patches[1], images[0, :4, 4:, 0].ravel())
    np.testing.assert_array_equal(patches[4], images[1, :4, :4, 0].ravel())
    with pytest.raises(ValueError, match="divisible"):
        data.sample_patches(images, patch_size=3)
    with pytest.raises(ValueError, match="patch_size"):
        data.sample_patches(images, patch_size=0)
    with pytest.raises(ValueError, match="max_patches"):
        data.sample_patches(images, 4, max_patches=0)


def test_sample_patches_draws_a_seeded_sample_of_those_patches():
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 1, size=(5, 16, 16, 1)).astype(np.float32)
    every = data.sample_patches(images, 4)
    sample = data.sample_patches(images, 4, max_patches=30, seed=7)
    assert sample.shape == (30, 16)
    # every sampled patch is one of the patches, no patch twice, in row-major order
    positions = [int(np.flatnonzero((every == patch).all(axis=1))[0]) for patch in sample]
    assert len(set(positions)) == 30 and positions == sorted(positions)
    np.testing.assert_array_equal(sample, data.sample_patches(images, 4, 30, seed=7))
    assert not np.array_equal(sample, data.sample_patches(images, 4, 30, seed=8))
    # the same sample as the former quantizer_plots.image_patches drew
    chosen = np.sort(np.random.default_rng(7).choice(len(every), 30, replace=False))
    np.testing.assert_array_equal(sample, every[chosen])


def test_sample_patches_of_a_split_view_and_of_uint8_pixels(small_split):
    expected = data.sample_patches(small_split.float_images(), 4, max_patches=12, seed=1)
    np.testing.assert_array_equal(data.sample_patches(small_split.images, 4, 12, seed=1), expected)
    np.testing.assert_array_equal(data.sample_patches(small_split.pixels, 4, 12, seed=1), expected)


def test_sample_patches_never_builds_every_patch():
    import tracemalloc

    # 20,000 slices of 256 x 256: every patch as float32 would take 5.2 GB; a read-only
    # broadcast view stands in for the pixels without allocating them.
    pixels = np.broadcast_to(np.uint8(51), (20_000, 256, 256, 1))
    tracemalloc.start()
    try:
        patches = data.sample_patches(pixels, patch_size=4, max_patches=5_000, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert patches.shape == (5_000, 16)
    np.testing.assert_allclose(patches, 0.2)
    assert peak < 50 * 2**20  # the sample and its indices, not 5 GB


def test_brain_crops_larger_than_the_image_are_refused_naming_crop_size(small_split):
    dataset = data.make_dataset(small_split, 4)  # 16 x 16 slices
    with pytest.raises(ValueError, match=r"crop_size must be in \[1, 16\].*got 32"):
        data.brain_crops(dataset, crop_size=32, batch_size=4)


def test_brain_crops_smaller_than_one_pixel_are_refused(small_split):
    dataset = data.make_dataset(small_split, 4)
    with pytest.raises(ValueError, match=r"crop_size must be a whole number in \[1, 16\]"):
        data.brain_crops(dataset, crop_size=0, batch_size=4)


def test_brain_crops_batch_size_below_one_is_refused(small_split):
    dataset = data.make_dataset(small_split, 4)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        data.brain_crops(dataset, crop_size=8, batch_size=0)


def test_brain_crops_of_images_of_unknown_size_check_crop_size_in_the_graph():
    import tensorflow as tf

    images = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((2, 8, 8, 1), np.float32)]),
        output_signature=tf.TensorSpec([None, None, None, 1], tf.float32),
    )
    crops = data.brain_crops(images, crop_size=12, batch_size=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="crop_size"):
        next(iter(crops))


def test_brain_crops_are_centred_in_the_brain():
    import tensorflow as tf

    images = np.zeros((6, 64, 64, 1), np.float32)
    images[:, 40:50, 10:20] = 1.0  # a small "brain" off-centre
    images[5] = 0.0  # no brain: the centre crop
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    batches = list(data.brain_crops(dataset, crop_size=16, batch_size=3, seed=1))
    assert [tuple(batch.shape) for batch in batches] == [(3, 16, 16, 1)] * 2
    crops = np.concatenate(batches)
    assert (crops[:5].mean(axis=(1, 2, 3)) > 0.2).all()  # every crop holds brain
    assert crops[5].max() == 0.0
    again = np.concatenate(list(data.brain_crops(dataset, 16, 3, seed=1)))
    np.testing.assert_array_equal(crops, again)  # seeded


def test_file_dataset_refuses_bad_sizes(png_root):
    files = sorted(str(path) for path in (png_root / "keras_png_slices_train").glob("*.png"))
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        data.make_file_dataset(files, image_size=32, batch_size=0)
    with pytest.raises(ValueError, match="image_size"):
        data.make_file_dataset(files, image_size=2, batch_size=4)
