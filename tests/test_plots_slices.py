"""plots.slices: brain slices, tissue masks, splits, intensity histograms and augmentation, drawn
from the tiny demo cohort (demo figures say that the data is a stand-in)."""

from __future__ import annotations

import matplotlib
import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import data, plots

pytestmark = pytest.mark.usefixtures("close_figures", "private_demo_cache")


@pytest.fixture
def source():
    return data.load_slices(None, image_size=32, **fx.TINY_DEMO)


def _texts(figure) -> list[str]:
    return [text.get_text() for text in figure.findobj(matplotlib.text.Text)]


def test_figures_of_a_source_say_when_it_is_the_demo_stand_in(source):
    for figure in (
        plots.split_grid(source, per_split=3),
        plots.intensity_histograms(source),
        plots.mask_overlays(source, count=3),
    ):
        assert any("a stand-in, not OASIS" in text for text in _texts(figure))


def test_show_slices_draws_one_panel_per_slice_and_overlay_mask_tints_the_labels(source):
    test = source.splits["test"]
    grid = plots.show_slices(test.images, masks=test.masks)
    assert len(grid.axes) == len(test)
    train = source.splits["train"]
    overlay = plots.overlay_mask(train.images[0], train.masks[0])
    assert overlay.shape == (32, 32, 3) and 0.0 <= overlay.min() and overlay.max() <= 1.0
    gray = np.repeat(np.clip(train.images[0], 0, 1), 3, axis=-1)
    background = train.masks[0] == 0
    np.testing.assert_allclose(overlay[background], gray[background], atol=1e-6)
    assert not np.allclose(overlay[~background], gray[~background])


def test_augmentation_examples_pair_each_slice_with_its_augmented_copy(source):
    images = source.splits["train"].images[:4]
    figure = plots.augmentation_examples(images, images[:, :, ::-1], count=4)
    assert len(figure.axes) == 8
