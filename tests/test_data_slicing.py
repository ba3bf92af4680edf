"""data.slicing: the volume loaders and the demo cohort read one set of slicing defaults, and
faint voxels below the volume threshold do not count as brain."""

from __future__ import annotations

import inspect

import numpy as np

from oasis_helpers import data, demo
from oasis_helpers.data import volumes


def test_the_loaders_and_the_demo_cohort_default_to_the_shared_slicing():
    expected = {
        "slices_per_volume": data.DEFAULT_SLICES_PER_VOLUME,
        "slice_range": data.DEFAULT_SLICE_RANGE,
        "brain_fill": data.DEFAULT_BRAIN_FILL,
    }
    for function in (data.load_slices, volumes.load_volume_slices, volumes.axial_slices):
        defaults = inspect.signature(function).parameters
        assert {name: defaults[name].default for name in expected} == expected, function
    config = demo.DemoConfig()
    assert (config.slice_range, config.brain_fill) == (expected["slice_range"], 0.72)


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
