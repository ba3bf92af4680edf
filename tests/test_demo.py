"""Tests of the embedded demo cohort (oasis_helpers.demo) and its loading via data.

Small cohorts (64x64, a few subjects and slices) keep these fast; each test uses
its own cache folder through ``OASIS_VQVAE_CACHE``.
"""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import data, demo

TINY = {"subjects": {"train": 2, "validate": 1, "test": 1}, "slices_per_subject": 3}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("OASIS_VQVAE_CACHE", str(folder))
    return folder


def tiny_config(seed=5, **overrides):
    return demo.demo_config(image_size=64, seed=seed, **{**TINY, **overrides})


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


def test_cache_is_written_reused_and_keyed_by_parameters(private_cache):
    config = tiny_config()
    built = demo.build_demo_cohort(config)
    assert not built.from_cache
    assert built.path == private_cache / f"demo-{config.key()}.npz"
    assert built.path.exists()
    loaded = demo.build_demo_cohort(config)
    assert loaded.from_cache
    for split in demo.SPLITS:
        np.testing.assert_array_equal(built.images[split], loaded.images[split])
        np.testing.assert_array_equal(built.subject_ids[split], loaded.subject_ids[split])
    changed = tiny_config(deformation_mm=1.0)
    assert changed.key() != config.key()
    assert not demo.build_demo_cohort(changed).from_cache
    assert len(list(private_cache.glob("demo-*.npz"))) == 2


def test_damaged_cache_file_is_rebuilt(private_cache):
    config = tiny_config()
    built = demo.build_demo_cohort(config)
    built.path.write_bytes(b"not an npz file")
    rebuilt = demo.build_demo_cohort(config)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(built.images["test"], rebuilt.images["test"])
    assert demo.build_demo_cohort(config).from_cache


def test_load_slices_demo_smoke_is_labelled_as_a_stand_in(private_cache):
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
    source = data.load_slices(None, image_size=32, **TINY)
    assert source.info["counts"] == {"train": 6, "validate": 3, "test": 3}
    with pytest.raises(TypeError, match="only apply to the demo"):
        data.load_slices(".", image_size=32, slices_per_subject=3)


def test_default_and_smoke_configurations():
    default = demo.demo_config()
    assert default.subjects == {"train": 24, "validate": 4, "test": 4}
    assert default.slices_per_subject == 24 and default.image_size == 256
    smoke = demo.demo_config(smoke=True)
    assert smoke.subjects == {"train": 3, "validate": 1, "test": 1}
    assert smoke.slices_per_subject == 8
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
        demo.DemoConfig(**{**TINY, **overrides})


def test_make_dataset_on_the_demo_split():
    source = data.load_slices(None, image_size=32, **TINY)
    dataset = data.make_dataset(source.splits["train"], batch_size=4, augment=True, with_masks=True)
    images, masks = next(iter(dataset))
    assert images.shape == (4, 32, 32, 1) and images.dtype.name == "float32"
    assert masks.shape == (4, 32, 32)
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0


def test_figures_and_slice_browser_build_on_the_demo(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oasis_helpers import plots, widgets

    source = data.load_slices(None, image_size=32, **TINY)
    titled = (
        plots.split_grid(source, per_split=3),
        plots.intensity_histograms(source),
        plots.mask_overlays(source, count=3),
    )
    for figure in titled:  # demo figures say that the data is a stand-in
        texts = [text.get_text() for text in figure.findobj(matplotlib.text.Text)]
        assert any("a stand-in, not OASIS" in text for text in texts)
        assert plots.save_figure(figure, tmp_path, "figure").exists()
    grid = plots.show_slices(source.splits["test"].images, masks=source.splits["test"].masks)
    assert len(grid.axes) == len(source.splits["test"])
    plt.close("all")
    overlay = plots.overlay_mask(source.splits["train"].images[0], source.splits["train"].masks[0])
    assert overlay.shape == (32, 32, 3) and 0.0 <= overlay.min() and overlay.max() <= 1.0

    browser = widgets.slice_browser(source, split="validate")
    controls, subject_slider, slice_slider = browser.children[:3]
    assert controls.children[0].value == "validate"
    assert slice_slider.max == TINY["slices_per_subject"] - 1
    controls.children[0].value = "train"
    assert subject_slider.max == 1
    subject_slider.value = 1
    assert "demo001" in browser.children[4].value
    assert browser.children[3].value[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")


def test_template_files_match_the_nilearn_loaders():
    from nilearn.datasets import load_mni152_template, load_mni152_wm_template

    t1, _, white = demo.read_mni152_files()
    np.testing.assert_allclose(t1, np.asarray(load_mni152_template().dataobj), atol=1e-6)
    np.testing.assert_allclose(white, np.asarray(load_mni152_wm_template().dataobj), atol=1e-6)


def test_load_slices_demo_without_masks():
    source = data.load_slices(None, image_size=32, with_masks=False, **TINY)
    assert source.info["has_masks"] is False
    assert all(split.masks is None for split in source.splits.values())
