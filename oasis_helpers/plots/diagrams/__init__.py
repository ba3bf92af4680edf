"""Diagrams of the series, drawn with matplotlib boxes, arrows and labels: the roadmap of the
five notebooks, the VQ-VAE's gradient paths, the gated PixelCNN block and notebook 05's
restoration pipeline.

Each ``draw_<name>()`` returns a ``Figure`` :data:`kit.WIDTH` inches wide, which
:func:`save_diagrams` saves at :data:`kit.DPI` as ``<name>.png`` of 900 pixels, the width of a
notebook cell, with no text smaller than :data:`kit.MIN_FONT_SIZE` points. The committed
copies are in ``docs/`` (the README and the notebooks show them); ``python
docs/draw_diagrams.py`` draws them again.

The defaults a diagram states are read from the package when it is drawn
(:func:`shown_values`); what it says about the notebooks and layers (file names, layer
names) is written here, in :data:`ROADMAP` and :data:`BLOCK_1_FIELD`, and
``tests/test_plots_diagrams_*.py`` check it against the notebooks and the package, so that
a diagram cannot drift from the code.

Modules, one idea (one diagram) each:

* :mod:`~oasis_helpers.plots.diagrams.shown`: :func:`shown_values`, the package's values
  the diagrams state;
* :mod:`~oasis_helpers.plots.diagrams.roadmap`: :func:`draw_roadmap` (:data:`ROADMAP`);
* :mod:`~oasis_helpers.plots.diagrams.vqvae_gradients`: :func:`draw_vqvae_gradients`;
* :mod:`~oasis_helpers.plots.diagrams.gated_block`: :func:`draw_gated_block`
  (:data:`BLOCK_1_FIELD`);
* :mod:`~oasis_helpers.plots.diagrams.restoration_pipeline`: :func:`draw_restoration_pipeline`;
* :mod:`~oasis_helpers.plots.diagrams.saving`: :data:`DIAGRAMS` and :func:`save_diagrams`.
"""

from oasis_helpers.plots.diagrams.gated_block import BLOCK_1_FIELD, draw_gated_block
from oasis_helpers.plots.diagrams.restoration_pipeline import draw_restoration_pipeline
from oasis_helpers.plots.diagrams.roadmap import ROADMAP, draw_roadmap
from oasis_helpers.plots.diagrams.saving import DIAGRAMS, save_diagrams
from oasis_helpers.plots.diagrams.shown import shown_values
from oasis_helpers.plots.diagrams.vqvae_gradients import draw_vqvae_gradients

__all__ = [
    "BLOCK_1_FIELD",
    "DIAGRAMS",
    "ROADMAP",
    "draw_gated_block",
    "draw_restoration_pipeline",
    "draw_roadmap",
    "draw_vqvae_gradients",
    "save_diagrams",
    "shown_values",
]
