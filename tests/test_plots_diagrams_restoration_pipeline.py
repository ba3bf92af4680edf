"""plots.diagrams.restoration_pipeline: every step of notebook 05's restoration is shown."""

from __future__ import annotations

import pytest
from oasis_fixtures import figure_text

from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


def test_restoration_pipeline_shows_every_step_of_notebook_05():
    text = figure_text(diagrams.draw_restoration_pipeline())
    for element in [
        "encode",
        "flag",
        "blind-spot",
        "heal",
        "raster order",
        "healed $z_{<ij})$",
        "healthy validation slices",
        "decode",
        r"|G_\sigma * (x - x_\mathrm{healed})|",
        "median 5×5",
        "brain region",
        "anomaly map",
    ]:
        assert element in text, element
