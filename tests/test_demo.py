"""The embedded demo cohort (oasis_helpers.demo): shapes, labels, determinism, the cache,
the configurations and the template files (loading it as a source:
tests/test_data_demo_slices.py).

Small cohorts (64x64, a few subjects and slices) keep these fast; each test uses
its own cache folder through ``OASIS_VQVAE_CACHE`` (conftest's ``private_demo_cache``).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data, demo

pytestmark = pytest.mark.usefixtures("private_demo_cache")


def tiny_config(seed=5, **overrides):
    return demo.demo_config(image_size=64, seed=seed, **{**fx.TINY_DEMO, **overrides})


def test_cohort_shapes_labels_and_distinct_subjects():
    cohort = demo.build_demo_cohort(tiny_config(), use_cache=False)
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


def test_masks_agree_with_intensities():
    cohort = demo.build_demo_cohort(tiny_config(), use_cache=False)
    images, masks = cohort.images["train"].astype(float), cohort.masks["train"]
    white, grey, csf = (images[masks == label].mean() for label in (3, 2, 1))
    assert white > grey > csf  # T1 contrast: white matter brightest, CSF darkest
    brain = np.count_nonzero(masks)
    for label in (1, 2, 3):  # every tissue holds a plausible share of the brain
        assert np.count_nonzero(masks == label) > 0.03 * brain
    assert np.mean(images[masks == 0] == 0) > 0.98


def test_cohort_is_deterministic_from_seed():
    first = demo.build_demo_cohort(tiny_config(), use_cache=False)
    again = demo.build_demo_cohort(tiny_config(), use_cache=False)
    other = demo.build_demo_cohort(tiny_config(seed=6), use_cache=False)
    for split in demo.SPLITS:
        np.testing.assert_array_equal(first.images[split], again.images[split])
        np.testing.assert_array_equal(first.masks[split], again.masks[split])
    assert not np.array_equal(first.images["train"], other.images["train"])


def test_cache_is_written_reused_and_keyed_by_parameters(private_demo_cache):
    config = tiny_config()
    built = demo.build_demo_cohort(config)
    assert not built.from_cache
    assert built.path == private_demo_cache / f"demo-{config.key()}.npz"
    assert built.path.exists()
    loaded = demo.build_demo_cohort(config)
    assert loaded.from_cache
    for split in demo.SPLITS:
        np.testing.assert_array_equal(built.images[split], loaded.images[split])
        np.testing.assert_array_equal(built.subject_ids[split], loaded.subject_ids[split])
    changed = tiny_config(deformation_mm=1.0)
    assert changed.key() != config.key()
    assert not demo.build_demo_cohort(changed).from_cache
    assert len(list(private_demo_cache.glob("demo-*.npz"))) == 2


def test_damaged_cache_file_is_rebuilt(private_demo_cache):
    config = tiny_config()
    built = demo.build_demo_cohort(config)
    built.path.write_bytes(b"not an npz file")
    rebuilt = demo.build_demo_cohort(config)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(built.images["test"], rebuilt.images["test"])
    assert demo.build_demo_cohort(config).from_cache


def test_the_smoke_cohort_is_as_small_as_every_smoke_source():
    default, smoke = demo.demo_config(), demo.demo_config(smoke=True)
    assert smoke.subjects == data.SMOKE_SUBJECTS
    assert smoke.slices_per_subject == data.SMOKE_SLICES_PER_SUBJECT
    assert smoke.subjects["train"] < default.subjects["train"]
    assert smoke.slices_per_subject < default.slices_per_subject
    assert default.key() != smoke.key()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subjects": {"training": 2}}, "unknown split"),
        ({"slices_per_subject": 0}, "slices_per_subject"),
        ({"slice_range": (0.9, 0.2)}, "slice_range"),
        ({"brain_fill": 0.01}, "brain_fill"),
    ],
)
def test_config_rejects_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        demo.DemoConfig(**{**fx.TINY_DEMO, **overrides})


def test_template_files_match_the_nilearn_loaders():
    from nilearn.datasets import load_mni152_template, load_mni152_wm_template

    t1, _, white = demo.read_mni152_files()
    np.testing.assert_allclose(t1, np.asarray(load_mni152_template().dataobj), atol=1e-6)
    np.testing.assert_allclose(white, np.asarray(load_mni152_wm_template().dataobj), atol=1e-6)
