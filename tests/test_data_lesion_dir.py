"""Tests of oasis_helpers.data.lesion_dir: the user's own annotated lesions.

The folders are written as real files from the phantoms of tests/oasis_fixtures.py: PNG
slices, and NIfTI volumes (nibabel) of a phantom with a bright sphere for a lesion, stored
in orientations other than RAS (the image's and its mask's differ), as pairs and as BraTS
subject folders.
"""

from __future__ import annotations

import shutil
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
    assert loaded.slice_heights is None  # a PNG slice's height is unknown
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


# ------------------------------------------------------------------ NIfTI volumes

#: The volumes' RAS shape, and a lesion in the subject's right, anterior, superior brain.
VOLUME_SHAPE = (40, 48, 36)
LESION_CENTRE, LESION_RADIUS = (28, 32, 22), 4.0
#: The image is stored as P-I-R (axes permuted and flipped, anisotropic voxels, shifted):
#: ``stored = _to_pir(ras)`` with this affine gives back ``ras`` after reorientation.
PIR_AFFINE = np.array(
    [[0.0, 0.0, 1.2, -20.0], [-1.0, 0.0, 0.0, 30.0], [0.0, -1.1, 0.0, 12.0], [0, 0, 0, 1]]
)
#: The mask is stored as S-L-A, another order again: its shape on disk differs from the
#: image's, and only after both are reoriented do they match voxel for voxel.
SLA_AFFINE = np.array(
    [[0.0, -1.2, 0.0, 20.0], [0.0, 0.0, 1.0, -30.0], [1.1, 0.0, 0.0, -12.0], [0, 0, 0, 1]]
)


def _to_pir(ras: np.ndarray) -> np.ndarray:
    return np.transpose(ras, (1, 2, 0))[::-1, ::-1, :]


def _to_sla(ras: np.ndarray) -> np.ndarray:
    return np.transpose(ras, (2, 0, 1))[:, ::-1, :]


def _lesion_volume(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A RAS phantom with a bright sphere (1500, above the white matter's 900) and its mask."""
    volume, _ = fx.phantom_volume(VOLUME_SHAPE, seed=seed)
    grids = np.meshgrid(*[np.arange(size) for size in VOLUME_SHAPE], indexing="ij")
    distance = np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, LESION_CENTRE, strict=True)))
    lesion = distance <= LESION_RADIUS
    volume[lesion] = 1500.0
    return volume, lesion.astype(np.uint8)


def _write_pair(root: Path, key: str, volume, mask, image_suffix=".nii.gz", mask_suffix=".nii.gz"):
    image = fx.write_nifti(root / f"{key}_image{image_suffix}", _to_pir(volume), PIR_AFFINE)
    mask = fx.write_nifti(root / f"{key}_mask{mask_suffix}", _to_sla(mask), SLA_AFFINE)
    return image, mask


@pytest.mark.parametrize("image_size", [32, 64])  # the frame (~57 px) shrunk, and enlarged
def test_nifti_pairs_give_the_loaders_slices_and_aligned_masks(tmp_path, image_size):
    root = tmp_path / "lesions"
    volume, mask = _lesion_volume(seed=0)
    image_path, _ = _write_pair(root, "case_2", volume, mask)
    _write_pair(root, "case_10", *_lesion_volume(seed=1), image_suffix=".nii", mask_suffix=".nii")
    (root / "notes.txt").write_text("ignored")
    loaded = data.load_lesion_dir(root, image_size)

    names = [name.split(":z=")[0] for name in loaded.names]
    count = names.count("case_2_image.nii.gz")
    assert names == ["case_2_image.nii.gz"] * count + ["case_10_image.nii"] * (len(names) - count)
    assert count > 5 and loaded.images.shape == (len(names), image_size, image_size, 1)
    assert loaded.images.dtype == np.float32 and loaded.masks.dtype == bool
    assert loaded.masks.shape == (len(names), image_size, image_size)
    # the slices are the data loader's slices of the same image file, level for level
    with pytest.warns(UserWarning, match="all go to train"):
        (tmp_path / "alone").mkdir()
        shutil.copy(image_path, tmp_path / "alone")
        source = data.load_slices(tmp_path / "alone", image_size=image_size, use_cache=False)
    np.testing.assert_allclose(loaded.images[:count], source.splits["train"].pixels / 255.0)
    np.testing.assert_array_equal(
        loaded.names[:count],
        [f"case_2_image.nii.gz:z={z}" for z in source.splits["train"].slice_ids],
    )
    # each volume's heights run from 0 (lowest slice) to 1, as the series' own code grids'
    train = source.splits["train"]
    np.testing.assert_allclose(
        loaded.slice_heights[:count],
        data.slice_heights(train.subject_ids, train.slice_ids),
    )
    assert loaded.slice_heights[count] == 0.0 and loaded.slice_heights[-1] == 1.0

    # the mask, stored in another orientation, covers the bright sphere after both are
    # reoriented and resized: anterior at the top, the subject's right on the right
    images, masks = loaded.images[:count, ..., 0], loaded.masks[:count]
    planes = np.array([int(name.split("=")[1]) for name in loaded.names[:count]])
    near = np.abs(planes - LESION_CENTRE[2]) <= LESION_RADIUS - 1
    far = np.abs(planes - LESION_CENTRE[2]) > LESION_RADIUS
    assert near.sum() >= 3 and masks[near].any(axis=(1, 2)).all()
    assert not masks[far].any()
    bright = images > 0.85
    overlap = (bright & masks).sum() / (bright | masks).sum()
    assert overlap > 0.6, overlap
    rows, columns = np.nonzero(masks[near].any(axis=0))
    assert rows.mean() < image_size / 2 < columns.mean()  # top right
    for found, expected in zip(
        np.argwhere(masks[near].any(axis=0)).mean(axis=0),
        np.argwhere(bright[near].any(axis=0)).mean(axis=0),
        strict=True,
    ):
        assert abs(found - expected) < 1.0


def test_nifti_empty_mask_gives_healthy_slices(tmp_path):
    volume, mask = _lesion_volume()
    _write_pair(tmp_path, "healthy", volume, np.zeros_like(mask), ".nii", ".nii")
    loaded = data.load_lesion_dir(tmp_path, 32)
    assert len(loaded.names) > 5 and not loaded.masks.any()
    assert loaded.images.max() > 0.5


def _write_brats(root: Path, subject: str, kinds, separator: str = "_", seed: int = 0) -> Path:
    """A BraTS subject folder: ``kinds`` maps a file kind (``t1``, ``seg``, ...) to a RAS
    volume; labels 1, 2 and 4 in the seg, as BraTS stores them."""
    folder = root / subject
    for kind, ras in kinds.items():
        fx.write_nifti(folder / f"{subject}{separator}{kind}.nii.gz", _to_pir(ras), PIR_AFFINE)
    return folder


def _brats_kinds(seed: int = 0, t1: str = "t1", t1ce: str = "t1ce", others=("t2", "flair")):
    volume, mask = _lesion_volume(seed)
    other, _ = fx.phantom_volume(VOLUME_SHAPE, seed=seed + 5)
    seg = mask * np.where(np.arange(VOLUME_SHAPE[0])[:, None, None] < 28, 1, 4)
    seg[LESION_CENTRE] = 2
    kinds = {t1: volume, t1ce: other * 2.0, "seg": seg}
    kinds.update({kind: 1000.0 - other for kind in others})
    return kinds, volume, mask


def test_brats_folders_read_the_t1_and_its_segmentation(tmp_path):
    root = tmp_path / "BraTS2021_Training_Data"
    kinds, volume, mask = _brats_kinds(seed=0)
    _write_brats(root, "BraTS2021_00002", kinds)
    kinds_2023, volume_2023, mask_2023 = _brats_kinds(1, "t1n", "t1c", ("t2w", "t2f"))
    _write_brats(root, "BraTS-GLI-00010-000", kinds_2023, separator="-")
    (root / "docs").mkdir()
    (root / "docs" / "licence.txt").write_text("no volumes here: ignored")
    (root / "name_mapping.csv").write_text("ignored")
    loaded = data.load_lesion_dir(root, 32)

    # the same slices as the T1 and its (binarised) seg written as a pair
    _write_pair(tmp_path / "pairs", "BraTS2021_00002", volume, mask)
    _write_pair(tmp_path / "pairs", "BraTS-GLI-00010-000", volume_2023, mask_2023)
    pairs = data.load_lesion_dir(tmp_path / "pairs", 32)
    folders = [name.split("/")[0] for name in loaded.names]
    assert folders == sorted(folders, key=lambda n: n != "BraTS2021_00002")
    assert loaded.names[0].startswith("BraTS2021_00002/BraTS2021_00002_t1.nii.gz:z=")
    assert loaded.names[-1].startswith("BraTS-GLI-00010-000/BraTS-GLI-00010-000-t1n.nii.gz:z=")
    np.testing.assert_array_equal(loaded.images, pairs.images)
    np.testing.assert_array_equal(loaded.masks, pairs.masks)
    assert loaded.masks.any()


def test_brats_folder_without_native_t1_reads_t1ce_with_a_warning(tmp_path):
    kinds, _, _ = _brats_kinds()
    kinds.pop("t1")
    _write_brats(tmp_path, "BraTS2021_00003", kinds)
    with pytest.warns(UserWarning, match=r"BraTS2021_00003_t1ce\.nii\.gz: .*no native T1"):
        loaded = data.load_lesion_dir(tmp_path, 32)
    assert loaded.names[0].startswith("BraTS2021_00003/BraTS2021_00003_t1ce.nii.gz:z=")


def _break_pairs(root: Path, breaking: str) -> None:
    """Write two good pairs in ``root``, then break them as ``breaking`` says."""
    volume, mask = _lesion_volume()
    _write_pair(root, "a", volume, mask)
    _write_pair(root, "b", volume, mask)
    if breaking == "image without mask":
        (root / "b_mask.nii.gz").unlink()
    elif breaking == "mask without image":
        (root / "b_image.nii.gz").unlink()
    elif breaking == "shape mismatch":
        fx.write_nifti(root / "b_mask.nii.gz", mask[:, :40])  # RAS 40x40x36, image 40x48x36
    elif breaking == "4D image":
        fx.write_nifti(root / "b_image.nii.gz", np.stack([volume, volume], axis=-1))
    elif breaking == "4D mask":
        fx.write_nifti(root / "b_mask.nii.gz", np.stack([mask, mask], axis=-1))
    elif breaking == "truncated image":
        fx.truncate(root / "b_image.nii.gz", keep=0.4)
    elif breaking == "truncated mask":
        fx.truncate(root / "b_mask.nii.gz", keep=0.4)
    elif breaking == "constant image":
        fx.write_nifti(root / "b_image.nii.gz", np.full(VOLUME_SHAPE, 7.0))
    elif breaking == "a second image":
        fx.write_nifti(root / "b_image.nii", volume)
    elif breaking == "misnamed file":
        fx.write_nifti(root / "b_t1.nii.gz", volume)
    elif breaking == "PNG beside NIfTI":
        fx.write_png(root / "images" / "slice_1.png", fx.phantom_slice(32)[0])
    elif breaking == "BraTS folder beside pairs":
        _write_brats(root, "BraTS2021_00001", {"t1": volume, "seg": mask})


@pytest.mark.parametrize(
    ("breaking", "error", "message"),
    [
        ("image without mask", data.LesionDirError, r"b_image\.nii\.gz: an image without a mask"),
        ("mask without image", data.LesionDirError, r"b_mask\.nii\.gz: a mask without an image"),
        (
            "shape mismatch",
            data.LesionDirError,
            r"b_mask\.nii\.gz: mask shape 40x40x36 differs "
            r"from its image .*b_image\.nii\.gz \(40x48x36\), both in RAS orientation",
        ),
        ("4D image", data.UnreadableFileError, r"b_image\.nii\.gz: expected a 3D volume"),
        ("4D mask", data.UnreadableFileError, r"b_mask\.nii\.gz: expected a 3D volume"),
        ("truncated image", data.UnreadableFileError, r"b_image\.nii\.gz: cannot read"),
        ("truncated mask", data.UnreadableFileError, r"b_mask\.nii\.gz: cannot read"),
        ("constant image", data.UnreadableFileError, r"b_image\.nii\.gz: the volume is constant"),
        (
            "a second image",
            data.LesionDirError,
            r"b_image\.nii\.gz: a second image of 'b' \(also .*b_image\.nii\)",
        ),
        (
            "misnamed file",
            data.LesionDirError,
            r"b_t1\.nii\.gz: a NIfTI file in lesion_dir must "
            r"be named .*looks like a BraTS subject's file",
        ),
        (
            "PNG beside NIfTI",
            data.LesionDirError,
            r"mixes PNG slices \(.*images/slice_1\.png\) "
            r"and NIfTI image/mask pairs \(.*a_image\.nii\.gz\)",
        ),
        (
            "BraTS folder beside pairs",
            data.LesionDirError,
            r"mixes NIfTI image/mask pairs "
            r"\(.*a_image\.nii\.gz\) and BraTS subject folders \(.*BraTS2021_00001_seg\.nii\.gz\)",
        ),
    ],
)
def test_nifti_pair_errors_name_the_file(tmp_path, breaking, error, message):
    _break_pairs(tmp_path, breaking)
    with pytest.raises(error, match=message):
        data.load_lesion_dir(tmp_path, 32)


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        (("seg",), r"BraTS2021_00004_t1\.nii\.gz: an image without a mask \(no \*_seg"),
        (
            ("t1", "t1ce"),
            r"BraTS2021_00004_seg\.nii\.gz: a mask without an image: .* holds no "
            r"T1 volume .*T2 and FLAIR are not used: .*BraTS2021_00004_t2\.nii\.gz",
        ),
        (("t1", "t1ce", "seg"), r"BraTS2021_00004: a subject folder with neither a T1 volume"),
    ],
)
def test_brats_errors_name_the_file(tmp_path, remove, message):
    kinds, _, _ = _brats_kinds()
    _write_brats(tmp_path, "BraTS2021_00002", dict(kinds))
    for kind in remove:
        kinds.pop(kind)
    _write_brats(tmp_path, "BraTS2021_00004", kinds)
    with pytest.raises(data.LesionDirError, match=message):
        data.load_lesion_dir(tmp_path, 32)
