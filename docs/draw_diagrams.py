"""Draw the series' diagrams again into this folder: ``python docs/draw_diagrams.py``.

Writes ``roadmap.png``, ``vqvae_gradients.png``, ``gated_block.png`` and
``restoration_pipeline.png`` (900 pixels wide) with
:func:`oasis_helpers.plots.diagrams.save_diagrams`, from the package of the checkout this
script sits in (not from another installed copy). Run it after changing a diagram and
commit the PNGs; ``tests/test_plots_diagrams_saving.py`` checks that their sizes still match.
"""

import sys
from pathlib import Path

import matplotlib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's oasis_helpers
matplotlib.use("Agg")

from oasis_helpers.plots import diagrams  # noqa: E402

if __name__ == "__main__":
    for path in diagrams.save_diagrams(HERE):
        print("wrote", path)
