"""Figures and tables that the notebooks show with one call.

Every figure function returns a matplotlib ``Figure`` (the notebook shows it and may
save it with :func:`save_figure`); :func:`markdown_table` returns a table for
``display``. Images are float ``[H, W]`` or ``[H, W, 1]`` in ``[0, 1]`` and are drawn in
gray with a fixed ``[0, 1]`` range, so that intensities can be compared between
panels. Titles of demo data say that it is a stand-in, not OASIS (:func:`source_title`).
This package and :mod:`oasis_helpers.widgets` are the only ones that draw.

Modules, one idea each:

* :mod:`~oasis_helpers.plots.figures`: what every figure shares (:func:`pyplot` on demand,
  :func:`as_2d`, :func:`source_title`, :func:`save_figure`);
* :mod:`~oasis_helpers.plots.slices`: brain slices, tissue masks, splits, intensity
  histograms, augmentation (notebook 01; :func:`show_slices` also in 04 and 05);
* :mod:`~oasis_helpers.plots.codebooks`: the vector quantizer and its codebook: Voronoi
  cells, the commitment cost, brain patches, codebook health, code frequencies, the size
  sweep, codes as patches (notebook 02; code frequencies also in 03);
* :mod:`~oasis_helpers.plots.training_curves`: training curves, drawn once or live
  (notebooks 03 and 04);
* :mod:`~oasis_helpers.plots.codes`: a slice as codes: numbers per slice through the
  VQ-VAE, code grids (notebook 03);
* :mod:`~oasis_helpers.plots.reconstructions`: reconstruction quality, best and worst
  slices (notebook 03);
* :mod:`~oasis_helpers.plots.prior`: the PixelCNN prior: receptive fields, bits per code,
  NLL maps (notebook 04);
* :mod:`~oasis_helpers.plots.judge`: the anatomy judge's reading of samples against real
  anatomy by height (notebook 04);
* :mod:`~oasis_helpers.plots.anomaly`: anomaly detection: lesions, the restoration's
  speed against quality, what each method sees, ROC and precision-recall curves, the scores
  on each kind of lesion (notebook 05);
* :mod:`~oasis_helpers.plots.tables`: :func:`markdown_table`;
* :mod:`~oasis_helpers.plots.source`: :func:`show_source`, the package's own code on the page;
* :mod:`~oasis_helpers.plots.diagram_kit`: boxes, arrows and labels the diagrams are drawn with;
* :mod:`~oasis_helpers.plots.diagrams`: the series' diagrams (roadmap, VQ-VAE gradients, gated
  block, restoration pipeline), a module each, committed as ``docs/*.png`` by
  :func:`save_diagrams`.

Every public name is re-exported here: ``plots.show_slices``, ``plots.LivePlot``, ...
"""

from oasis_helpers.plots.anomaly import (
    LESION_KIND_SCORES,
    plot_anomaly_panels,
    plot_lesion_kinds,
    plot_restoration_tradeoff,
    plot_roc_pr_curves,
    plot_score_maps,
    show_lesions,
)
from oasis_helpers.plots.codebooks import (
    plot_code_frequencies,
    plot_commitment,
    plot_quantizer_training,
    plot_size_sweep,
    plot_voronoi,
    show_codebook,
    show_patches,
)
from oasis_helpers.plots.codes import PART_COLOURS, plot_code_grids, plot_numbers_per_slice
from oasis_helpers.plots.diagrams import (
    DIAGRAMS,
    draw_gated_block,
    draw_restoration_pipeline,
    draw_roadmap,
    draw_vqvae_gradients,
    save_diagrams,
)
from oasis_helpers.plots.figures import as_2d, pyplot, save_figure, source_title
from oasis_helpers.plots.judge import plot_anatomy_by_height
from oasis_helpers.plots.prior import plot_bits_per_code, plot_nll_maps, plot_receptive_fields
from oasis_helpers.plots.reconstructions import plot_best_and_worst, plot_reconstruction_metrics
from oasis_helpers.plots.slices import (
    TISSUE_COLOURS,
    TISSUE_NAMES,
    augmentation_examples,
    intensity_histograms,
    mask_overlays,
    overlay_mask,
    show_slices,
    split_grid,
)
from oasis_helpers.plots.source import show_source, source_text
from oasis_helpers.plots.tables import markdown_table
from oasis_helpers.plots.training_curves import HISTORY_PANELS, LivePlot, plot_history

__all__ = [
    "HISTORY_PANELS",
    "LESION_KIND_SCORES",
    "PART_COLOURS",
    "TISSUE_COLOURS",
    "TISSUE_NAMES",
    "LivePlot",
    "as_2d",
    "augmentation_examples",
    "intensity_histograms",
    "markdown_table",
    "mask_overlays",
    "overlay_mask",
    "plot_anatomy_by_height",
    "plot_anomaly_panels",
    "plot_lesion_kinds",
    "plot_best_and_worst",
    "plot_bits_per_code",
    "plot_code_frequencies",
    "plot_code_grids",
    "plot_commitment",
    "plot_history",
    "plot_nll_maps",
    "plot_numbers_per_slice",
    "plot_quantizer_training",
    "plot_receptive_fields",
    "plot_reconstruction_metrics",
    "plot_restoration_tradeoff",
    "plot_roc_pr_curves",
    "plot_score_maps",
    "plot_size_sweep",
    "plot_voronoi",
    "pyplot",
    "save_figure",
    "show_codebook",
    "show_lesions",
    "show_patches",
    "show_slices",
    "show_source",
    "source_text",
    "source_title",
    "split_grid",
    "DIAGRAMS",
    "draw_gated_block",
    "draw_restoration_pipeline",
    "draw_roadmap",
    "draw_vqvae_gradients",
    "save_diagrams",
]
