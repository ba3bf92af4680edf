"""Tests of oasis_helpers.data on real files of every supported format.

The tests write small PNG slices (Pillow), Analyze 7.5 and NIfTI volumes
(nibabel) in the real folder layouts (tests/oasis_fixtures.py), load them, and
check counts, splits, shapes, ranges and the answer to each kind of bad input.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import oasis_fixtures as fx  # noqa: E402

from oasis_helpers import data  # noqa: E402

SIZE = 64


def _no_subject_in_two_splits(source: data.SliceSource) -> None:
    seen = {split: set(source.splits[split].subject_ids.tolist()) for split in data.SPLITS}
    assert not seen["train"] & seen["validate"]
    assert not seen["train"] & seen["test"]
    assert not seen["validate"] & seen["test"]
    assert source.info["subjects_shared_between_splits"] == []


def _check_images(split: data.SliceSplit, size: int = SIZE) -> None:
    assert split.pixels.dtype == np.uint8  # stored as 8 bits
    assert split.pixels.shape[1:] == (size, size, 1)
    assert split.images.dtype == np.float32 and split.images.shape == split.pixels.shape
    images = split.float_images()
    assert images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, split.pixels * data.PIXEL_SCALE)
    assert split.slice_ids.dtype == np.int32
    assert len(split.subject_ids) == len(split.slice_ids) == len(split.files) == len(split)


# ============================================================================ PNG slices


@pytest.fixture
def png_root(tmp_path):
    return fx.write_png_layout(tmp_path / "oasis")


def test_png_layout_counts_subjects_and_masks(png_root):
    source = data.load_slices(png_root, image_size=SIZE)
    assert source.layout == "png_slices"
    assert source.root == png_root
    assert source.info["counts"] == {"train": 12, "validate": 8, "test": 8}
    assert source.info["subjects"] == {"train": 3, "validate": 2, "test": 2}
    assert source.info["has_masks"] is True
    assert source.info["stand_in"] is False
    assert source.info["original_sizes"] == {f"{SIZE}x{SIZE}": 28}
    assert source.info["resized"] == 0
    train = source.splits["train"]
    _check_images(train)
    # natural order of subjects, slices in order, subject parsed from case_441_slice_0.nii.png
    assert train.subject_ids.tolist()[:4] == ["10"] * 4
    assert train.slice_ids.tolist()[:4] == [0, 1, 2, 3]
    assert train.files[4].endswith("case_441_slice_0.nii.png")
    _no_subject_in_two_splits(source)


def test_png_values_and_mask_labels_match_the_files(tmp_path):
    base = fx.write_png_layout(
        tmp_path, subjects={"train": ["1"], "validate": ["2"], "test": ["3"]}, slices=1
    )
    image, mask = fx.phantom_slice(SIZE, seed=0)
    fx.write_png(base / "keras_png_slices_train" / "case_1_slice_0.nii.png", image)
    fx.write_png(base / "keras_png_slices_seg_train" / "seg_1_slice_0.nii.png", mask)
    source = data.load_slices(tmp_path, image_size=SIZE)
    train = source.splits["train"]
    np.testing.assert_allclose(train.images[0, :, :, 0], image / 255.0, atol=1e-6)
    expected = np.searchsorted(fx.MASK_VALUES, mask)  # 0, 85, 170, 255 -> 0, 1, 2, 3
    np.testing.assert_array_equal(train.masks[0], expected)
    assert set(np.unique(train.masks[0])) == {0, 1, 2, 3}
    assert train.masks.dtype == np.uint8


def test_png_root_may_be_the_split_folder_parent_or_one_above(tmp_path):
    base = fx.write_png_layout(tmp_path, nested=True)
    from_above = data.load_slices(tmp_path, image_size=SIZE)
    direct = data.load_slices(base, image_size=SIZE)
    assert from_above.root == direct.root == base
    assert from_above.info["counts"] == direct.info["counts"]


def test_png_rgb_rgba_and_16_bit_are_converted_to_gray(tmp_path):
    base = fx.write_png_layout(tmp_path, slices=1, masks=False)
    image, _ = fx.phantom_slice(SIZE, seed=3)
    folder = base / "keras_png_slices_train"
    fx.write_png(folder / "case_441_slice_0.nii.png", image, mode="RGB")
    fx.write_png(folder / "case_442_slice_0.nii.png", image, mode="RGBA")
    fx.write_png(folder / "case_10_slice_0.nii.png", image, mode="I;16")
    source = data.load_slices(tmp_path, image_size=SIZE)
    assert set(source.info["color_modes"]) >= {"RGB", "RGBA", "I;16"}
    train = source.splits["train"]
    for index in range(3):
        np.testing.assert_allclose(train.images[index, :, :, 0], image / 255.0, atol=2e-3)


def test_png_off_size_images_are_resized_and_reported(tmp_path):
    base = fx.write_png_layout(tmp_path, slices=2)
    big, big_mask = fx.phantom_slice(96, seed=1)
    fx.write_png(base / "keras_png_slices_train" / "case_441_slice_0.nii.png", big[:, 8:88])
    fx.write_png(base / "keras_png_slices_seg_train" / "seg_441_slice_0.nii.png", big_mask[:, 8:88])
    source = data.load_slices(tmp_path, image_size=SIZE)
    assert source.info["resized"] == 1
    assert source.info["original_sizes"]["96x80"] == 1
    train = source.splits["train"]
    _check_images(train)
    index = train.files.index(str(base / "keras_png_slices_train" / "case_441_slice_0.nii.png"))
    assert train.images[index].max() > 0.5
    assert set(np.unique(train.masks[index])) <= {0, 1, 2, 3}


def test_png_images_are_resized_to_any_image_size(png_root):
    source = data.load_slices(png_root, image_size=32)
    _check_images(source.splits["validate"], size=32)
    assert source.splits["validate"].masks.shape[1:] == (32, 32)
    assert source.info["resized"] == 28


def test_png_non_image_files_are_ignored(png_root):
    train_folder = png_root / "keras_png_slices_train"
    (train_folder / "README.txt").write_text("not an image")
    (train_folder / ".DS_Store").write_bytes(b"\x00\x01")
    (train_folder / "._case_441_slice_0.nii.png").write_bytes(b"macOS resource fork")
    (train_folder / "notes").mkdir()
    source = data.load_slices(png_root, image_size=SIZE)
    assert source.info["counts"]["train"] == 12
    assert source.info["ignored_count"] == 3
    assert any("README.txt" in name for name in source.info["ignored_files"])


def test_png_without_its_mask_is_reported(png_root):
    missing = png_root / "keras_png_slices_seg_validate" / "seg_500_slice_2.nii.png"
    missing.unlink()
    with pytest.warns(UserWarning, match="no mask"):
        source = data.load_slices(png_root, image_size=SIZE)
    assert source.info["missing_mask_count"] == 1
    assert source.info["missing_masks"][0].endswith("case_500_slice_2.nii.png")
    validate = source.splits["validate"]
    index = validate.files.index(source.info["missing_masks"][0])
    assert not validate.mask_present[index]
    assert validate.mask_present.sum() == len(validate) - 1
    assert validate.masks[index].max() == 0


@pytest.mark.parametrize("damage", ["truncate", "corrupt_data", "not_png"])
def test_png_unreadable_file_raises_naming_it(png_root, damage):
    path = png_root / "keras_png_slices_test" / "case_601_slice_1.nii.png"
    if damage == "truncate":
        fx.truncate(path, 0.6)
    elif damage == "corrupt_data":
        content = bytearray(path.read_bytes())
        for offset in range(60, min(len(content) - 20, 200)):
            content[offset] ^= 0x5A  # scramble the compressed pixels, keep the IEND end
        path.write_bytes(bytes(content))
    else:
        path.write_text("this is text, not a PNG")
    with pytest.raises(data.UnreadableFileError, match="case_601_slice_1.nii.png") as caught:
        data.load_slices(png_root, image_size=SIZE)
    assert caught.value.path == path
    assert "on_error='skip'" in str(caught.value)


def test_png_unreadable_files_skipped_with_one_counting_warning(png_root):
    fx.truncate(png_root / "keras_png_slices_train" / "case_441_slice_1.nii.png")
    fx.truncate(png_root / "keras_png_slices_test" / "case_600_slice_0.nii.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = data.load_slices(png_root, image_size=SIZE, on_error="skip")
    messages = [str(item.message) for item in caught if "skipped" in str(item.message)]
    assert len(messages) == 1
    assert "skipped 2 unreadable file(s)" in messages[0]
    assert source.info["counts"] == {"train": 11, "validate": 8, "test": 7}
    assert source.info["skipped_count"] == 2
    assert all("case_441_slice_1" not in name for name in source.splits["train"].files)


def test_png_smoke_loads_few_subjects_but_reports_the_whole_source(tmp_path):
    root = fx.write_png_layout(
        tmp_path,
        subjects={"train": ["1", "2", "3", "4", "5"], "validate": ["6", "7"], "test": ["8"]},
        slices=12,
        masks=False,
    )
    source = data.load_slices(root, image_size=SIZE, smoke=True)
    assert source.info["subjects"] == {"train": 3, "validate": 1, "test": 1}
    assert source.info["counts"] == {"train": 24, "validate": 8, "test": 8}
    assert source.info["source_counts"] == {"train": 60, "validate": 24, "test": 12}
    assert source.info["source_subjects"] == {"train": 5, "validate": 2, "test": 1}
    assert source.info["has_masks"] is False
    assert source.splits["train"].masks is None


def test_png_missing_split_folder_is_named(tmp_path):
    base = fx.write_png_layout(tmp_path, masks=False)
    for path in (base / "keras_png_slices_validate").iterdir():
        path.unlink()
    (base / "keras_png_slices_validate").rmdir()
    with pytest.raises(data.DataLayoutError, match="keras_png_slices_validate is missing"):
        data.load_slices(tmp_path, image_size=SIZE)


def test_png_empty_split_folder_is_named(tmp_path):
    base = fx.write_png_layout(tmp_path, masks=False)
    for path in (base / "keras_png_slices_test").iterdir():
        path.unlink()
    with pytest.raises(data.DataLayoutError, match="keras_png_slices_test holds no PNG"):
        data.load_slices(tmp_path, image_size=SIZE)


# ============================================================================ folders


@pytest.mark.parametrize("case", ["missing", "empty", "unrelated", "file"])
def test_bad_data_dir_lists_the_supported_layouts(tmp_path, case):
    target = tmp_path / "data"
    if case == "empty":
        target.mkdir()
    elif case == "unrelated":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
        (target / "photo.jpg").write_bytes(b"\xff\xd8")
    elif case == "file":
        target.write_text("a file")
    with pytest.raises(data.DataLayoutError) as caught:
        data.load_slices(target)
    message = str(caught.value)
    assert str(target) in message
    for expected in ("keras_png_slices_train", "T88_111", "masked_gfc.img", "NIfTI", "None"):
        assert expected in message
    assert isinstance(caught.value, FileNotFoundError)


def test_detect_layout_of_every_source(tmp_path):
    fx.write_png_layout(tmp_path / "png", slices=1, masks=False)
    fx.write_oasis1_layout(tmp_path / "oasis", subjects=["0001"])
    fx.write_nifti_folder(tmp_path / "nii", names=["a.nii"])
    assert data.detect_layout(None) == ("demo", None)
    assert data.detect_layout(tmp_path / "png")[0] == "png_slices"
    assert data.detect_layout(tmp_path / "oasis") == ("oasis1_analyze", tmp_path / "oasis")
    assert data.detect_layout(tmp_path / "oasis" / "disc1")[0] == "oasis1_analyze"
    assert data.detect_layout(tmp_path / "nii")[0] == "nifti"


def test_on_error_must_be_raise_or_skip(png_root):
    with pytest.raises(ValueError, match="on_error"):
        data.load_slices(png_root, on_error="ignore")


# ============================================================================ OASIS-1 Analyze


def test_oasis1_analyze_layout_reports_every_subject_split_by_subject(tmp_path):
    subjects = [f"{index:04d}" for index in range(1, 11)]
    fx.write_oasis1_layout(tmp_path, subjects=subjects, second_sessions=("0002", "0007"), fseg=True)
    source = data.load_slices(tmp_path, image_size=SIZE, slices_per_volume=6)
    assert source.layout == "oasis1_analyze"
    assert source.info["volumes_found"] == 12
    found = sorted(s for members in source.info["source_subject_ids"].values() for s in members)
    assert found == [f"OAS1_{subject}" for subject in subjects]
    assert source.info["subjects"] == {"train": 8, "validate": 1, "test": 1}
    _no_subject_in_two_splits(source)
    # both sessions of a subject land in the same split
    for subject in ("OAS1_0002", "OAS1_0007"):
        homes = [split for split in data.SPLITS if subject in source.splits[split].subject_ids]
        assert len(homes) == 1
        split = source.splits[homes[0]]
        files = {
            name for name, sid in zip(split.files, split.subject_ids, strict=True) if sid == subject
        }
        assert len(files) == 2
    for split in data.SPLITS:
        _check_images(source.splits[split])
        assert source.splits[split].pixels.max() > 0.9 * 255
        assert set(np.unique(source.splits[split].masks)) <= {0, 1, 2, 3}
    assert source.info["has_masks"] is True
    assert source.info["original_sizes"] == {"44x52x44": 12}


def test_oasis1_split_is_deterministic_from_seed(tmp_path):
    fx.write_oasis1_layout(tmp_path, subjects=[f"{i:04d}" for i in range(1, 9)])
    first = data.load_slices(tmp_path, image_size=32, seed=3, slices_per_volume=2)
    again = data.load_slices(tmp_path, image_size=32, seed=3, slices_per_volume=2)
    other = data.load_slices(tmp_path, image_size=32, seed=4, slices_per_volume=2)
    assert first.info["source_subject_ids"] == again.info["source_subject_ids"]
    np.testing.assert_array_equal(first.splits["train"].pixels, again.splits["train"].pixels)
    assert first.info["source_subject_ids"] != other.info["source_subject_ids"]


def test_oasis1_slices_are_axial_with_anterior_at_the_top(tmp_path):
    volume, _ = fx.phantom_volume((40, 48, 40))
    volume[18:22, 36:40, 10:30] = 2000.0  # a bright marker in the anterior brain (high y)
    session = fx.oasis1_session_folder(tmp_path, 1, "0001")
    fx.write_analyze(
        session / "PROCESSED/MPRAGE/T88_111/OAS1_0001_MR1_mpr_n4_anon_111_t88_masked_gfc.img",
        volume,
    )
    with pytest.warns(UserWarning, match="all go to train"):
        source = data.load_slices(tmp_path, image_size=SIZE, slices_per_volume=4)
    image = source.splits["train"].images[1, :, :, 0]
    row, _ = np.unravel_index(np.argmax(image), image.shape)
    assert row < SIZE // 2
    assert source.info["counts"]["validate"] == 0  # one subject: all in train


def test_oasis1_volume_with_nan_raises_naming_it(tmp_path):
    paths = fx.write_oasis1_layout(tmp_path, subjects=["0001", "0002", "0003"], fourth_axis=False)
    bad = paths["OAS1_0002_MR1"]
    volume, _ = fx.phantom_volume((44, 52, 44))
    volume[10, 10, 10] = np.nan
    volume[11, 10, 10] = np.inf
    fx.write_analyze(bad, volume, dtype=np.float32)
    with pytest.raises(data.UnreadableFileError, match="OAS1_0002_MR1_mpr") as caught:
        data.load_slices(tmp_path, image_size=32)
    assert "2 voxel(s) are NaN or infinite" in str(caught.value)
    with pytest.warns(UserWarning, match="skipped 1 unreadable file"):
        source = data.load_slices(tmp_path, image_size=32, on_error="skip")
    assert "OAS1_0002" not in [s for split in source.splits.values() for s in split.subject_ids]
    assert source.info["skipped_count"] == 1


def test_oasis1_missing_header_names_the_image(tmp_path):
    paths = fx.write_oasis1_layout(tmp_path, subjects=["0001"])
    paths["OAS1_0001_MR1"].with_suffix(".hdr").unlink()
    with pytest.warns(UserWarning, match="all go to train"):
        with pytest.raises(data.UnreadableFileError, match="OAS1_0001_MR1_mpr_n4"):
            data.load_slices(tmp_path, image_size=32)


def test_oasis1_smoke_loads_few_subjects_but_lists_all(tmp_path):
    fx.write_oasis1_layout(tmp_path, subjects=[f"{i:04d}" for i in range(1, 11)])
    source = data.load_slices(tmp_path, image_size=32, smoke=True)
    assert source.info["subjects"] == {"train": 3, "validate": 1, "test": 1}
    assert max(source.info["counts"].values()) <= 3 * data.SMOKE_SLICES_PER_SUBJECT
    assert sum(source.info["source_subjects"].values()) == 10


# ============================================================================ NIfTI


def test_nifti_folder_recursive_with_bids_subjects(tmp_path):
    fx.write_nifti_folder(tmp_path)
    fx.write_nifti(tmp_path / "sub-01" / "anat" / "sub-01_dseg.nii.gz", np.zeros((8, 8, 8)))
    (tmp_path / "participants.tsv").write_text("participant_id\nsub-01\n")
    source = data.load_slices(tmp_path, image_size=SIZE, slices_per_volume=5)
    assert source.layout == "nifti"
    all_subjects = sorted(
        s for members in source.info["source_subject_ids"].values() for s in members
    )
    assert all_subjects == ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"]
    assert source.info["subjects"] == {"train": 3, "validate": 1, "test": 1}
    assert any("sub-01_dseg" in name for name in source.info["ignored_files"])
    assert source.info["has_masks"] is False
    _no_subject_in_two_splits(source)
    for split in data.SPLITS:
        _check_images(source.splits[split])
        assert len(source.splits[split]) == 5 * source.info["subjects"][split]


def test_nifti_reoriented_volume_gives_the_same_slices(tmp_path):
    volume, _ = fx.phantom_volume((40, 48, 40), seed=2)
    volume[18:22, 36:40, 10:30] = 2000.0
    flipped_affine = np.diag([-1.0, -1.0, 1.0, 1.0])  # stored as L-P-S: same anatomy
    fx.write_nifti(tmp_path / "ras" / "a.nii", volume)
    fx.write_nifti(tmp_path / "lps" / "a.nii", volume[::-1, ::-1, :], flipped_affine)
    with pytest.warns(UserWarning, match="all go to train"):
        ras = data.load_slices(tmp_path / "ras", image_size=SIZE, slices_per_volume=3)
        lps = data.load_slices(tmp_path / "lps", image_size=SIZE, slices_per_volume=3)
    np.testing.assert_array_equal(ras.splits["train"].pixels, lps.splits["train"].pixels)


def test_nifti_truncated_file_raises_naming_it(tmp_path):
    paths = fx.write_nifti_folder(tmp_path)
    fx.truncate(paths[1], 0.5)
    with pytest.raises(data.UnreadableFileError, match="sub-02_T1w.nii.gz"):
        data.load_slices(tmp_path, image_size=32)


def test_nifti_4d_volume_is_rejected(tmp_path):
    fx.write_nifti(tmp_path / "bold.nii.gz", np.ones((8, 8, 8, 3)))
    with pytest.warns(UserWarning, match="all go to train"):
        with pytest.raises(data.UnreadableFileError, match=r"bold.nii.gz: expected a 3D volume"):
            data.load_slices(tmp_path, image_size=32)


def test_nifti_volume_with_inf_raises(tmp_path):
    paths = fx.write_nifti_folder(tmp_path, names=["a.nii", "b.nii", "c.nii"])
    volume, _ = fx.phantom_volume((40, 48, 40))
    volume[5, 5, 5] = -np.inf
    fx.write_nifti(paths[2], volume)
    with pytest.raises(data.UnreadableFileError, match="c.nii: 1 voxel"):
        data.load_slices(tmp_path, image_size=32)


# ============================================================================ splitting


def test_split_subjects_fractions_and_determinism():
    subjects = [f"s{i}" for i in range(40)]
    split = data.split_subjects(subjects, seed=7)
    assert [len(split[name]) for name in data.SPLITS] == [32, 4, 4]
    assert sorted(sum(split.values(), [])) == sorted(subjects)
    assert data.split_subjects(list(reversed(subjects)), seed=7) == split
    assert data.split_subjects(subjects, seed=8) != split


@pytest.mark.parametrize("count", [3, 4, 5, 7])
def test_split_subjects_gives_every_split_a_subject(count):
    split = data.split_subjects([str(i) for i in range(count)], seed=0)
    assert all(len(split[name]) >= 1 for name in data.SPLITS)
    assert sum(len(members) for members in split.values()) == count


def test_split_subjects_with_too_few_subjects_warns():
    with pytest.warns(UserWarning, match="all go to train"):
        split = data.split_subjects(["a", "b"], seed=0)
    assert split == {"train": ["a", "b"], "validate": [], "test": []}


def test_split_subjects_rejects_bad_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        data.split_subjects(["a", "b", "c"], fractions=(0.5, 0.2, 0.2))


# ============================================================================ helpers


def test_scale_intensity_is_robust_to_hot_voxels():
    volume, _ = fx.phantom_volume((30, 30, 30))
    volume[0, 0, 0] = 1e6
    scaled = data.scale_intensity(volume)
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    assert np.median(scaled[volume > 800]) > 0.8  # white matter is not darkened
    with pytest.raises(ValueError, match="constant"):
        data.scale_intensity(np.zeros((4, 4, 4)))


def test_mask_values_to_labels():
    values = np.array([0, 85, 170, 255, 84, 3], np.uint8)
    np.testing.assert_array_equal(data.mask_values_to_labels(values), [0, 1, 2, 3, 1, 0])
    np.testing.assert_array_equal(data.mask_values_to_labels(np.array([0, 1, 2, 3])), [0, 1, 2, 3])


# ============================================================================ tf.data


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


def test_pointing_at_one_split_folder_suggests_its_parent(png_root):
    with pytest.raises(data.DataLayoutError, match="pass its parent"):
        data.load_slices(png_root / "keras_png_slices_train")


def test_oasis1_volume_without_segmentation_is_reported(tmp_path):
    import shutil

    fx.write_oasis1_layout(tmp_path, subjects=["0001", "0002", "0003"], fseg=True)
    shutil.rmtree(fx.oasis1_session_folder(tmp_path, 1, "0002") / "FSL_SEG")
    source = data.load_slices(tmp_path, image_size=32, slices_per_volume=4)
    assert source.info["has_masks"] is True
    assert source.info["missing_mask_count"] == 1
    assert "OAS1_0002_MR1" in source.info["missing_masks"][0]
    for split in source.splits.values():
        expected = split.subject_ids != "OAS1_0002"
        np.testing.assert_array_equal(split.mask_present, expected)


# ============================================================================ 8-bit storage


def test_png_slices_are_stored_as_their_own_8_bit_pixels(png_root):
    from PIL import Image

    train = data.load_slices(png_root, image_size=SIZE).splits["train"]
    for index, path in enumerate(train.files):
        original = np.asarray(Image.open(path))
        np.testing.assert_array_equal(train.pixels[index, :, :, 0], original)  # exact


def test_volume_slices_in_8_bits_are_within_half_a_level_of_the_floats(tmp_path):
    fx.write_oasis1_layout(tmp_path, subjects=["0001", "0002", "0003"])
    source = data.load_slices(tmp_path, image_size=32, slices_per_volume=6)
    split = source.splits["train"]
    subject = split.subjects[0]
    record = next(r for r in data.find_oasis1_volumes(tmp_path) if r.subject == subject)
    floats, slice_ids, _ = data.axial_slices(
        data.scale_intensity(data.read_volume(record.path)), 32, 6
    )
    indices = split.subject_slices(subject)
    np.testing.assert_array_equal(split.slice_ids[indices], slice_ids)
    difference = np.abs(split.float_images(indices)[..., 0] - floats)
    assert difference.max() <= 1 / 510 + 1e-6  # the rounding to 8 bits, nothing more
    assert difference.max() > 0  # (the volumes really were rounded)


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


def test_from_float_images_rounds_to_the_nearest_level():
    images = np.linspace(0.0, 1.0, 4 * 4 * 4).reshape(4, 4, 4, 1).astype(np.float32)
    split = data.SliceSplit.from_float_images(
        images, np.array(["a"] * 4), np.arange(4, dtype=np.int32), None, ["f"] * 4
    )
    assert split.pixels.dtype == np.uint8
    assert np.abs(split.float_images() - images).max() <= 1 / 510 + 1e-7


def test_slice_split_refuses_float_pixels_and_says_what_to_use():
    with pytest.raises(ValueError, match="pixels must be a uint8 array.*from_float_images"):
        data.SliceSplit(
            np.zeros((2, 8, 8, 1), np.float32), np.array(["a", "a"]), np.arange(2), None, ["f"] * 2
        )


# ============================================================================ patches


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


# ============================================================================ bad parameters


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


def test_image_size_below_the_minimum_is_refused_naming_it(png_root):
    with pytest.raises(ValueError, match=r"image_size must be a whole number of pixels >= 8"):
        data.load_slices(png_root, image_size=4)
    with pytest.raises(ValueError, match="image_size"):
        data.load_slices(png_root, image_size=64.5)


def test_slices_per_volume_below_one_is_refused(tmp_path):
    fx.write_oasis1_layout(tmp_path, subjects=["0001", "0002", "0003"])
    with pytest.raises(ValueError, match="slices_per_volume must be a whole number >= 1"):
        data.load_slices(tmp_path, image_size=32, slices_per_volume=0)


def test_file_dataset_refuses_bad_sizes(png_root):
    files = sorted(str(path) for path in (png_root / "keras_png_slices_train").glob("*.png"))
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        data.make_file_dataset(files, image_size=32, batch_size=0)
    with pytest.raises(ValueError, match="image_size"):
        data.make_file_dataset(files, image_size=2, batch_size=4)


def test_data_imports_neither_runs_nor_a_model():
    import subprocess
    import sys

    code = (
        "import sys; from oasis_helpers import data; "
        "print(sorted(m for m in sys.modules if m.startswith('oasis_helpers.') "
        "and not m.startswith('oasis_helpers.data')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("layout", ["png_slices", "oasis1_analyze"])
def test_with_masks_false_loads_no_masks(tmp_path, layout):
    if layout == "png_slices":
        root = fx.write_png_layout(tmp_path)
        kwargs = {}
    else:
        root = tmp_path
        fx.write_oasis1_layout(root, subjects=["0001", "0002", "0003"], fseg=True)
        kwargs = {"slices_per_volume": 4}
    with_masks = data.load_slices(root, image_size=32, **kwargs)
    without = data.load_slices(root, image_size=32, with_masks=False, **kwargs)
    assert with_masks.info["has_masks"] is True and without.info["has_masks"] is False
    assert without.info["missing_mask_count"] == 0
    for split in data.SPLITS:
        assert without.splits[split].masks is None
        assert without.splits[split].mask_present is None
        np.testing.assert_array_equal(without.splits[split].pixels, with_masks.splits[split].pixels)
    with pytest.raises(ValueError, match="no masks"):
        data.make_dataset(without.splits["train"], 2, with_masks=True)
