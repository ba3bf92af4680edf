"""data.slicing: the volume loaders and the demo cohort read one set of slicing defaults, and
faint voxels below the volume threshold do not count as brain."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data, demo
from oasis_helpers.data import volumes

#: The shared slicing, and another one that gives other slices.
SHARED = {
    "slices_per_volume": data.DEFAULT_SLICES_PER_VOLUME,
    "slice_range": data.DEFAULT_SLICE_RANGE,
    "brain_fill": data.DEFAULT_BRAIN_FILL,
}
OTHER = {"slices_per_volume": 3, "slice_range": (0.1, 0.9), "brain_fill": 0.5}


def test_a_volume_loaded_without_slicing_settings_is_sliced_as_the_shared_defaults(tmp_path):
    volume = fx.phantom_volume((40, 48, 64))[0]
    default = volumes.axial_slices(volume, 32)
    shared, other = (volumes.axial_slices(volume, 32, **slicing) for slicing in (SHARED, OTHER))
    np.testing.assert_array_equal(default[1], shared[1])  # the same planes ...
    np.testing.assert_array_equal(default[0], shared[0])  # ... framed the same way
    assert default[1].tolist() != other[1].tolist()  # (the settings do change the slices)
    fx.write_nifti_folder(tmp_path, names=["a.nii", "b.nii", "c.nii"])
    loaded = data.load_slices(tmp_path, image_size=32, with_masks=False)
    explicit = data.load_slices(tmp_path, image_size=32, with_masks=False, **SHARED)
    for split in data.SPLITS:
        np.testing.assert_array_equal(
            loaded.splits[split].slice_ids, explicit.splits[split].slice_ids
        )
        np.testing.assert_array_equal(loaded.splits[split].pixels, explicit.splits[split].pixels)


def test_the_demo_cohort_frames_its_slices_as_the_shared_defaults():
    config = demo.DemoConfig()
    assert (config.slice_range, config.brain_fill) == (SHARED["slice_range"], SHARED["brain_fill"])


def test_faint_voxels_below_the_volume_threshold_leave_the_brain_extent_alone():
    volume = np.full((40, 40, 40), data.VOLUME_BRAIN_THRESHOLD * 0.8, np.float32)  # faint
    volume[10:30, 10:30, 12:28] = 1.0  # the brain: axial planes 12 to 27
    _, slice_ids, _ = data.axial_slices(volume, 32, slices_per_volume=4, slice_range=(0, 1))
    assert slice_ids.tolist() == [12, 17, 22, 27]
    # one brighter voxel counts: the extent starts at plane 0, and of the planes 0, 9, 18
    # and 27 the two almost empty ones are skipped
    volume[0, 0, 0] = data.VOLUME_BRAIN_THRESHOLD * 1.2
    _, slice_ids, _ = data.axial_slices(volume, 32, slices_per_volume=4, slice_range=(0, 1))
    assert slice_ids.tolist() == [18, 27]


def test_slice_heights_run_from_each_subjects_lowest_slice_to_its_highest():
    heights = data.slice_heights(["a", "a", "b", "a", "c"], [4, 2, 7, 3, 9])
    np.testing.assert_allclose(heights, [1.0, 0.0, 0.5, 0.5, 0.5])
    assert heights.dtype == np.float32
    with pytest.raises(ValueError, match="same length"):
        data.slice_heights(["a"], [1, 2])
