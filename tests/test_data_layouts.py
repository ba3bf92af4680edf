"""What a data folder looks like (oasis_helpers.data.layouts): detection of every layout, and
the errors that list the supported ones.

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


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


def test_pointing_at_one_split_folder_suggests_its_parent(png_root):
    with pytest.raises(data.DataLayoutError, match="pass its parent"):
        data.load_slices(png_root / "keras_png_slices_train")
