"""plots.figures: pyplot on demand, images as 2D arrays, titles that name the source, and
saving a figure as PNG."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from oasis_helpers import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_pyplot_is_matplotlibs():
    assert plots.pyplot().__name__ == "matplotlib.pyplot"


def test_as_2d_drops_the_channel_axis_as_float32():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    flat = plots.as_2d(image)
    assert flat.shape == (2, 3) and flat.dtype == np.float32
    np.testing.assert_array_equal(plots.as_2d(flat), flat)


def test_source_titles_say_when_the_data_is_the_demo_stand_in():
    demo = SimpleNamespace(layout="demo", label="demo")
    oasis = SimpleNamespace(layout="png_slices", label="OASIS PNG slices")
    assert plots.source_title(demo, "slices") == "slices - demo cohort (a stand-in, not OASIS)"
    assert plots.source_title(oasis) == "OASIS PNG slices"


def test_save_figure_writes_a_png_named_after_the_figure(tmp_path):
    figure = plots.pyplot().figure()
    path = plots.save_figure(figure, tmp_path / "figures", "first")
    assert path == tmp_path / "figures" / "first.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
