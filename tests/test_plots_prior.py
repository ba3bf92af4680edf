"""plots.prior: receptive fields, bits per code against the baselines and NLL maps, from small
inputs."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_receptive_fields_mark_what_a_position_sees_and_the_position_itself():
    field = np.zeros((3, 4), bool)
    field[0] = True
    figure = plots.plot_receptive_fields({"plain": field, "gated": ~field}, target=(1, 2))
    assert [axis.get_title() for axis in figure.axes] == ["plain", "gated"]
    picture = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(picture[0, 0], (0.25, 0.7, 0.35))  # seen: green
    np.testing.assert_allclose(picture[1, 2], (0.85, 0.15, 0.15))  # the position: red
    np.testing.assert_allclose(picture[2, 0], (1.0, 1.0, 1.0))  # unseen: white


def test_bits_per_code_bars_follow_the_values_in_their_order():
    values = {"prior": 1.6, "unigram": 4.6, "uniform": 8.0}
    axis = plots.plot_bits_per_code(values).axes[0]
    assert [bar.get_width() for bar in axis.patches] == list(values.values())
    assert [label.get_text() for label in axis.get_yticklabels()] == list(values)


def test_nll_maps_share_one_colour_scale_under_their_slices():
    images = np.zeros((2, 8, 8, 1), np.float32)
    maps = np.stack([np.zeros((8, 8)), np.full((8, 8), 3.0)]).astype(np.float32)
    figure = plots.plot_nll_maps(images, maps, titles=["a", "b"])
    shown = [axis.get_images()[0] for axis in figure.axes[2:4]]
    assert {image.get_clim() for image in shown} == {(0.0, 3.0)}
    assert [axis.get_title() for axis in figure.axes[:2]] == ["a", "b"]
