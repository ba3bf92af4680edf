"""plots.codebooks: the figures of the vector quantizer and its codebook, from small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import metrics, plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_code_frequencies_of_code_statistics():
    """Notebook 03 draws its codes' rank-frequency plot from ``metrics.code_statistics``."""
    grids = {"train": np.array([[0, 0, 0, 1]]), "test": np.array([[0, 1, 2, 2]])}
    statistics = {name: metrics.code_statistics(codes, 4) for name, codes in grids.items()}
    figure = plots.plot_code_frequencies(statistics)
    (axis,) = figure.axes
    train, test = axis.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [0.75, 0.25, np.nan, np.nan])
    np.testing.assert_allclose(test.get_ydata(), [0.5, 0.25, 0.25, np.nan])
    assert train.get_label() == f"train (perplexity {statistics['train']['code_perplexity']:.1f})"


def test_commitment_draws_gaps_and_the_moving_mean_of_switches_per_beta():
    runs = {
        0.0: ([0.5, 0.6, 0.7, 0.8], [1.0, 0.0, 1.0, 0.0]),
        2.0: ([0.5, 0.2, 0.1, 0.1], [0.0] * 4),
    }
    figure = plots.plot_commitment(runs, window=2)
    gaps, switches = figure.axes
    assert [line.get_label() for line in gaps.get_lines()] == ["beta = 0.0", "beta = 2.0"]
    np.testing.assert_allclose(gaps.get_lines()[0].get_ydata(), [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(switches.get_lines()[0].get_ydata(), [0.5, 0.5, 0.5])
    assert switches.get_title() == "fraction of vectors changing code (2-step mean)"


def test_patches_show_the_slice_and_a_seeded_mosaic_of_distinct_patches():
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    patches = np.arange(10 * 4, dtype=np.float32).reshape(10, 4) / 40  # 10 patches of 2x2
    figure = plots.show_patches(image, patches, patch_size=2, grid=3, seed=5)
    slice_axis, mosaic_axis = figure.axes
    np.testing.assert_array_equal(slice_axis.images[0].get_array(), image[..., 0])
    mosaic = np.asarray(mosaic_axis.images[0].get_array())
    assert mosaic.shape == (6, 6) and mosaic_axis.get_title() == "9 random 2x2 patches"
    chosen = np.random.default_rng(5).choice(10, 9, replace=False)
    # tile (row, column) of the mosaic is patch chosen[3 * row + column], row by row
    np.testing.assert_array_equal(mosaic[2:4, 0:2].ravel(), patches[chosen[3]])
    np.testing.assert_array_equal(mosaic[0:2, 4:6].ravel(), patches[chosen[2]])
    with pytest.raises(ValueError, match="at least 9 patches of 4 values"):
        plots.show_patches(image, patches[:8], patch_size=2, grid=3)
