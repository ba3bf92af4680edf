"""The embedded demo cohort as a source (oasis_helpers.data.demo_slices): ``load_slices(None)``
labels it a stand-in, stores its 8 bits as they are, caches it and takes its options.

Each test uses its own cache folder (conftest's ``private_demo_cache``).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

pytestmark = pytest.mark.usefixtures("private_demo_cache")


def test_load_slices_demo_smoke_is_labelled_as_a_stand_in(private_demo_cache):
    source = data.load_slices(None, image_size=64, seed=1, smoke=True)
    assert source.layout == "demo" and source.root is None
    assert source.stand_in is True
    info = source.info
    assert info["stand_in"] is True
    assert "stand-in, not OASIS" in info["label"]
    assert info["counts"] == {"train": 24, "validate": 8, "test": 8}
    assert info["subjects"] == {"train": 3, "validate": 1, "test": 1}
    assert info["has_masks"] is True
    assert 0.0 <= info["intensity_min"] < info["intensity_max"] <= 1.0
    assert info["subjects_shared_between_splits"] == []
    for split in data.SPLITS:
        part = source.splits[split]
        assert part.images.dtype == np.float32 and part.images.shape[1:] == (64, 64, 1)
        assert part.pixels.dtype == np.uint8  # the cohort's own 8 bits, stored as they are
        np.testing.assert_array_equal(part.float_images(), part.pixels * data.PIXEL_SCALE)
        assert part.masks.shape == (len(part), 64, 64)
        assert part.mask_present.all()
    again = data.load_slices(None, image_size=64, seed=1, smoke=True)
    assert again.info["demo_from_cache"] is True
    np.testing.assert_array_equal(again.splits["train"].images, source.splits["train"].images)


def test_load_slices_demo_accepts_cohort_options():
    source = data.load_slices(None, image_size=32, **fx.TINY_DEMO)
    assert source.info["counts"] == {"train": 6, "validate": 3, "test": 3}
    with pytest.raises(TypeError, match="only apply to the demo"):
        data.load_slices(".", image_size=32, slices_per_subject=3)


def test_load_slices_demo_without_masks():
    source = data.load_slices(None, image_size=32, with_masks=False, **fx.TINY_DEMO)
    assert source.info["has_masks"] is False
    assert all(split.masks is None for split in source.splits.values())


def test_make_dataset_on_the_demo_split():
    source = data.load_slices(None, image_size=32, **fx.TINY_DEMO)
    dataset = data.make_dataset(source.splits["train"], batch_size=4, augment=True, with_masks=True)
    images, masks = next(iter(dataset))
    assert images.shape == (4, 32, 32, 1) and images.dtype.name == "float32"
    assert masks.shape == (4, 32, 32)
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
