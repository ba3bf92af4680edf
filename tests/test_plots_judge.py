"""The anatomy-by-height figure."""

import numpy as np
import pytest

from oasis_helpers import judge, plots


def _profile(seed: int, asked: bool) -> judge.AnatomyProfile:
    rng = np.random.default_rng(seed)
    placed = rng.uniform(0, 1, 12)
    return judge.AnatomyProfile(
        bin_centres=(np.arange(5) + 0.5) / 5,
        real_mean=rng.uniform(0, 0.3, (5, 3)),
        real_std=rng.uniform(0, 0.05, (5, 3)),
        real_count=np.full(5, 4),
        placed_heights=placed,
        judged_heights=np.clip(placed + rng.normal(0, 0.1, 12), 0, 1),
        judged_tissues=rng.uniform(0, 0.3, (12, 3)),
        height_error=0.1 if asked else None,
        tissue_error=0.02,
    )


def test_plot_anatomy_by_height_draws_four_panels(close_figures):
    figure = plots.plot_anatomy_by_height({"prior": _profile(0, True), "test": _profile(1, False)})
    assert len(figure.axes) == 4
    assert len(figure.axes[0].collections) == 2  # one scatter per set
    assert "error 0.100" in " ".join(t.get_text() for t in figure.axes[0].get_legend().get_texts())
    with pytest.raises(ValueError, match="empty"):
        plots.plot_anatomy_by_height({})
