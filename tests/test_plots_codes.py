"""plots.codes: the numbers per slice through the VQ-VAE and code grids, from small inputs."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from oasis_helpers import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def _images(count: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, size, size, 1)).astype(np.float32)


def test_numbers_per_slice_count_every_output_but_one_integer_per_code():
    table = [
        {"part": "encoder", "layer": "down_1", "output_shape": (16, 16, 8)},
        {"part": "quantizer", "layer": "vq", "output_shape": (8, 8, 4)},
        {"part": "decoder", "layer": "output", "output_shape": (32, 32, 1)},
    ]
    figure = plots.plot_numbers_per_slice(table, image_size=32)
    (axis,) = figure.axes
    bars = axis.patches
    assert [bar.get_height() for bar in bars] == [16 * 16 * 8, 8 * 8, 32 * 32]
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in bars]
    expected = [matplotlib.colors.to_hex(plots.PART_COLOURS[row["part"]]) for row in table]
    assert colours == expected
    assert [label.get_text() for label in axis.get_xticklabels()] == ["down_1", "vq", "output"]
    (pixels,) = axis.get_lines()  # the dashed line of the slice's pixels
    assert list(pixels.get_ydata()) == [32**2, 32**2]
    assert axis.get_yscale() == "log"


def test_code_grids_show_evenly_spaced_slices_above_their_codes():
    images = _images(6)
    codes = np.random.default_rng(0).integers(0, 16, (6, 4, 4))
    figure = plots.plot_code_grids(images, codes, slice_ids=np.arange(10, 16), count=3)
    axes = np.array(figure.axes).reshape(2, 3)
    for column, index in enumerate([0, 2, 5]):
        np.testing.assert_array_equal(axes[0, column].images[0].get_array(), images[index, ..., 0])
        np.testing.assert_array_equal(axes[1, column].images[0].get_array(), codes[index])
        assert axes[0, column].get_title() == f"slice {10 + index}"
        assert axes[1, column].get_title() == "4 x 4 codes"
    with pytest.raises(ValueError, match="6 images but 5 code grids"):
        plots.plot_code_grids(images, codes[:5])
