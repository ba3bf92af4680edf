"""Analyze and NIfTI volumes (oasis_helpers.data.volumes): OASIS-1 and NIfTI layouts, subject
splits, orientation, bad volumes, intensity scaling and 8-bit slices.

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


def test_oasis1_analyze_layout_reports_every_subject_split_by_subject(tmp_path):
    subjects = [f"{index:04d}" for index in range(1, 11)]
    fx.write_oasis1_layout(tmp_path, subjects=subjects, second_sessions=("0002", "0007"), fseg=True)
    source = data.load_slices(tmp_path, image_size=SIZE, slices_per_volume=6)
    assert source.layout == "oasis1_analyze"
    assert source.info["volumes_found"] == 12
    found = sorted(s for members in source.info["source_subject_ids"].values() for s in members)
    assert found == [f"OAS1_{subject}" for subject in subjects]
    assert source.info["subjects"] == {"train": 8, "validate": 1, "test": 1}
    fx.no_subject_in_two_splits(source)
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
        fx.check_slice_split(source.splits[split])
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
    fx.no_subject_in_two_splits(source)
    for split in data.SPLITS:
        fx.check_slice_split(source.splits[split])
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


def test_scale_intensity_is_robust_to_hot_voxels():
    volume, _ = fx.phantom_volume((30, 30, 30))
    volume[0, 0, 0] = 1e6
    scaled = data.scale_intensity(volume)
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    assert np.median(scaled[volume > 800]) > 0.8  # white matter is not darkened
    with pytest.raises(ValueError, match="constant"):
        data.scale_intensity(np.zeros((4, 4, 4)))


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


def test_slices_per_volume_below_one_is_refused(tmp_path):
    fx.write_oasis1_layout(tmp_path, subjects=["0001", "0002", "0003"])
    with pytest.raises(ValueError, match="slices_per_volume must be a whole number >= 1"):
        data.load_slices(tmp_path, image_size=32, slices_per_volume=0)
