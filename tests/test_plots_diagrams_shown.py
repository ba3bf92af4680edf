"""plots.diagrams.shown: the values the diagrams state are read from the package when drawn."""

from __future__ import annotations

import oasis_fixtures as fx
import pytest

from oasis_helpers import anomaly, models, prior, quantizer
from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


def test_the_values_are_the_packages_own():
    shown = diagrams.shown_values()
    assert shown["commitment_cost"] == quantizer.DEFAULT_COMMITMENT_COST
    assert shown["dilations"] == tuple(prior.DEFAULT_PRIOR["dilations"])
    assert shown["median_size"] == anomaly.DEFAULT_MEDIAN_SIZE
    assert shown["num_embeddings"] == models.DEFAULT_CONFIG["num_embeddings"]
    assert models.DEFAULT_CONFIG["quantizer"] == "ema"  # "EMA ('ema', the default)"


@pytest.mark.parametrize(
    "draw, holder, key, value, expected",
    [
        (diagrams.draw_gated_block, prior.DEFAULT_PRIOR, "num_layers", 7, "L = 7 blocks"),
        (diagrams.draw_vqvae_gradients, models.DEFAULT_CONFIG, "num_embeddings", 99, "[99, "),
    ],
)
def test_a_changed_default_changes_the_diagram(monkeypatch, draw, holder, key, value, expected):
    """A diagram states what the package says when it is drawn, not a copy of it."""
    assert expected not in fx.figure_text(draw())
    monkeypatch.setitem(holder, key, value)
    assert expected in fx.figure_text(draw())


def test_a_changed_module_constant_reaches_the_roadmap_and_the_pipeline(monkeypatch):
    monkeypatch.setattr(quantizer, "DEFAULT_COMMITMENT_COST", 0.375)
    assert "β = 0.375" in fx.figure_text(diagrams.draw_roadmap())
    monkeypatch.setattr(anomaly, "DEFAULT_MEDIAN_SIZE", 9)
    assert "median 9×9" in fx.figure_text(diagrams.draw_restoration_pipeline())
