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
