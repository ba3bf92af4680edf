"""The embedded demo cohort (oasis_helpers.demo.cohort): shapes, labels, distinct subjects and
the cache (loading it as a source: tests/test_data_demo_slices.py).

Small cohorts (64x64, a few subjects and slices) keep these fast; each test uses
its own cache folder through ``OASIS_VQVAE_CACHE`` (conftest's ``private_demo_cache``).
"""

from __future__ import annotations

import numpy as np
import pytest
from oasis_fixtures import tiny_demo_config

from oasis_helpers import demo

pytestmark = pytest.mark.usefixtures("private_demo_cache")


def test_cohort_shapes_labels_and_distinct_subjects():
    cohort = demo.build_demo_cohort(tiny_demo_config(), use_cache=False)
    assert {split: cohort.images[split].shape for split in demo.SPLITS} == {
        "train": (6, 64, 64),
        "validate": (3, 64, 64),
        "test": (3, 64, 64),
    }
    for split in demo.SPLITS:
        assert cohort.images[split].dtype == np.uint8
        assert cohort.masks[split].dtype == np.uint8
        assert set(np.unique(cohort.masks[split])) == {0, 1, 2, 3}
        assert cohort.slice_ids[split].tolist()[:3] == [0, 1, 2]
        # the background is exactly zero, like skull-stripped OASIS slices
        assert cohort.images[split][:, 0, :].max() == 0
    subjects = {split: set(cohort.subject_ids[split].tolist()) for split in demo.SPLITS}
    assert subjects["train"] == {"demo000", "demo001"}
    assert subjects["validate"] == {"demo002"} and subjects["test"] == {"demo003"}
    # two subjects are different brains (own deformation, affine and intensity curve)
    first, second = cohort.images["train"][1], cohort.images["train"][4]
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 3


def test_cache_is_written_reused_and_keyed_by_parameters(private_demo_cache):
    config = tiny_demo_config()
    built = demo.build_demo_cohort(config)
    assert not built.from_cache
    assert built.path == private_demo_cache / f"demo-{config.key()}.npz"
    assert built.path.exists()
    loaded = demo.build_demo_cohort(config)
    assert loaded.from_cache
    for split in demo.SPLITS:
        np.testing.assert_array_equal(built.images[split], loaded.images[split])
        np.testing.assert_array_equal(built.subject_ids[split], loaded.subject_ids[split])
    changed = tiny_demo_config(deformation_mm=1.0)
    assert changed.key() != config.key()
    assert not demo.build_demo_cohort(changed).from_cache
    assert len(list(private_demo_cache.glob("demo-*.npz"))) == 2


def test_damaged_cache_file_is_rebuilt(private_demo_cache):
    config = tiny_demo_config()
    built = demo.build_demo_cohort(config)
    built.path.write_bytes(b"not an npz file")
    rebuilt = demo.build_demo_cohort(config)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(built.images["test"], rebuilt.images["test"])
    assert demo.build_demo_cohort(config).from_cache
