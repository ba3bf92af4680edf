"""The entry point load_slices (oasis_helpers.data.loading): its checks, masks on request,
and what importing the data package pulls in.

The data are small real files of every format (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data

SIZE = fx.SLICE_SIZE


def test_image_size_below_the_minimum_is_refused_naming_it(png_root):
    with pytest.raises(ValueError, match=r"image_size must be a whole number of pixels >= 8"):
        data.load_slices(png_root, image_size=4)
    with pytest.raises(ValueError, match="image_size"):
        data.load_slices(png_root, image_size=64.5)


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
