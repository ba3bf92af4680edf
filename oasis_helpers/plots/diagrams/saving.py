"""Every diagram by file stem (:data:`DIAGRAMS`), each saved as ``<stem>.png`` by
:func:`save_diagrams`.
"""

from __future__ import annotations

import os
from pathlib import Path

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.diagrams.gated_block import draw_gated_block
from oasis_helpers.plots.diagrams.restoration_pipeline import draw_restoration_pipeline
from oasis_helpers.plots.diagrams.roadmap import draw_roadmap
from oasis_helpers.plots.diagrams.vqvae_gradients import draw_vqvae_gradients
from oasis_helpers.plots.figures import pyplot

__all__ = [
    "DIAGRAMS",
    "save_diagrams",
]


#: File stem -> drawing function; :func:`save_diagrams` writes ``<stem>.png`` for each.
DIAGRAMS = {
    "roadmap": draw_roadmap,
    "vqvae_gradients": draw_vqvae_gradients,
    "gated_block": draw_gated_block,
    "restoration_pipeline": draw_restoration_pipeline,
}


def save_diagrams(folder: str | os.PathLike) -> list[Path]:
    """Draw every diagram of :data:`DIAGRAMS` and save it as ``folder/<name>.png``.

    Saved at ``diagram_kit.DPI`` without cropping, so every file is exactly
    ``WIDTH * DPI`` = 900 pixels wide. Returns the paths, in the order of :data:`DIAGRAMS`.
    """
    plt = pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in DIAGRAMS.items():
        figure = draw()
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=kit.DPI, metadata={"Software": None})
        plt.close(figure)
        paths.append(path)
    return paths
