"""The OASIS PNG slices (oasis_helpers.data.png): counts, values, masks, colour modes, sizes,
ignored and unreadable files, smoke loading, and the 8 bits they are stored in.

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


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
    fx.check_slice_split(train)
    # natural order of subjects, slices in order, subject parsed from case_441_slice_0.nii.png
    assert train.subject_ids.tolist()[:4] == ["10"] * 4
    assert train.slice_ids.tolist()[:4] == [0, 1, 2, 3]
    assert train.files[4].endswith("case_441_slice_0.nii.png")
    fx.no_subject_in_two_splits(source)


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
    fx.check_slice_split(train)
    index = train.files.index(str(base / "keras_png_slices_train" / "case_441_slice_0.nii.png"))
    assert train.images[index].max() > 0.5
    assert set(np.unique(train.masks[index])) <= {0, 1, 2, 3}


def test_png_images_are_resized_to_any_image_size(png_root):
    source = data.load_slices(png_root, image_size=32)
    fx.check_slice_split(source.splits["validate"], size=32)
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


def test_png_slices_are_stored_as_their_own_8_bit_pixels(png_root):
    from PIL import Image

    train = data.load_slices(png_root, image_size=SIZE).splits["train"]
    for index, path in enumerate(train.files):
        original = np.asarray(Image.open(path))
        np.testing.assert_array_equal(train.pixels[index, :, :, 0], original)  # exact
