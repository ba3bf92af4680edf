"""Tests of oasis_helpers.data.lesion_dir: the user's own annotated lesion slices.

The folders are written as real PNG files from the phantoms of tests/oasis_fixtures.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data


def _write_lesion_dir(root: Path, count: int = 3, size: int = 48) -> Path:
    for index in range(count):
        image, _ = fx.phantom_slice(size, seed=index)
        mask = np.zeros((size, size), np.uint8)
        mask[10 + index : 20 + index, 12:22] = 1 + index  # any non-zero value is a lesion
        fx.write_png(root / "images" / f"slice_{index}.png", image)
        fx.write_png(root / "masks" / f"slice_{index}.png", mask)
    return root


def test_load_lesion_dir_reads_images_and_binary_masks(tmp_path):
    root = _write_lesion_dir(tmp_path / "lesions", count=3, size=48)
    # a non-square pair and an RGB image: padded to a square like the data loader does
    image, _ = fx.phantom_slice(48, seed=9)
    fx.write_png(root / "images" / "slice_10.png", image[:, 8:40], mode="RGB")
    wide_mask = np.zeros((48, 32), np.uint8)
    wide_mask[20:30, 10:20] = 255
    fx.write_png(root / "masks" / "slice_10.png", wide_mask)
    (root / "images" / "notes.txt").write_text("ignored")
    loaded = data.load_lesion_dir(root, image_size=48)
    assert loaded.names == ["slice_0.png", "slice_1.png", "slice_2.png", "slice_10.png"]
    assert loaded.images.shape == (4, 48, 48, 1) and loaded.images.dtype == np.float32
    assert loaded.masks.shape == (4, 48, 48) and loaded.masks.dtype == bool
    assert 0.0 <= loaded.images.min() and loaded.images.max() <= 1.0
    np.testing.assert_allclose(loaded.images[0, ..., 0], fx.phantom_slice(48, seed=0)[0] / 255)
    assert loaded.masks[0].sum() == 100 and loaded.masks[0, 10:20, 12:22].all()
    assert loaded.masks[3, 20:30, 18:28].all() and loaded.masks[3].sum() == 100  # padded by 8
    resized = data.load_lesion_dir(root, image_size=24)
    assert resized.images.shape == (4, 24, 24, 1) and resized.masks[0].sum() == 25


def test_lesion_dir_mask_without_image_is_named(tmp_path):
    root = _write_lesion_dir(tmp_path)
    (root / "images" / "slice_1.png").unlink()
    with pytest.raises(data.LesionDirError, match=r"slice_1\.png: a mask without an image"):
        data.load_lesion_dir(root, 48)


def test_lesion_dir_image_without_mask_is_named(tmp_path):
    root = _write_lesion_dir(tmp_path)
    (root / "masks" / "slice_2.png").unlink()
    with pytest.raises(data.LesionDirError, match=r"slice_2\.png: an image without a mask"):
        data.load_lesion_dir(root, 48)


def test_lesion_dir_size_mismatch_is_named(tmp_path):
    root = _write_lesion_dir(tmp_path)
    fx.write_png(root / "masks" / "slice_0.png", np.zeros((40, 48), np.uint8))
    with pytest.raises(
        data.LesionDirError, match=r"slice_0\.png: mask size 48x40 \(width x height\) differs"
    ):
        data.load_lesion_dir(root, 48)


def test_lesion_dir_empty_folder_is_an_error(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(data.LesionDirError, match="no PNG files"):
        data.load_lesion_dir(tmp_path, 48)


@pytest.mark.parametrize("missing", ["images", "masks"])
def test_lesion_dir_missing_subfolder_is_named(tmp_path, missing):
    root = _write_lesion_dir(tmp_path)
    for path in (root / missing).iterdir():
        path.unlink()
    (root / missing).rmdir()
    with pytest.raises(FileNotFoundError, match=f"no {missing}/ folder"):
        data.load_lesion_dir(root, 48)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        data.load_lesion_dir(tmp_path / "nowhere", 48)


@pytest.mark.parametrize("folder", ["images", "masks"])
def test_lesion_dir_unreadable_png_is_named(tmp_path, folder):
    root = _write_lesion_dir(tmp_path)
    fx.truncate(root / folder / "slice_1.png", keep=0.4)
    with pytest.raises(data.UnreadableFileError, match=rf"{folder}/slice_1\.png"):
        data.load_lesion_dir(root, 48)
