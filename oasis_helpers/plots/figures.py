"""What every figure shares: pyplot on demand, images as 2D arrays, titles that name the
source, and saving a figure as PNG.

Every figure function of :mod:`oasis_helpers.plots` returns a matplotlib ``Figure``; the
notebook shows it and may save it with :func:`save_figure`. Images are float ``[H, W]``
or ``[H, W, 1]`` in ``[0, 1]``. pyplot is imported only when a figure is drawn
(:func:`pyplot`), not when this module is (Keras, which :mod:`~oasis_helpers.plots.training_curves`
imports, loads pyplot itself); :func:`as_2d` turns an image into what ``imshow`` takes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt


def pyplot():
    """``matplotlib.pyplot``, imported on the first figure (not when the package is)."""
    import matplotlib.pyplot as plt

    return plt


def as_2d(image: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """An image ``[H, W, 1]`` or ``[H, W]`` as float32 ``[H, W]``, as ``imshow`` takes it."""
    array = np.asarray(image, dtype=np.float32)
    return array[..., 0] if array.ndim == 3 else array


def source_title(source, text: str = "") -> str:
    """``text`` followed by the source's name; demo titles say "stand-in, not OASIS"."""
    name = "demo cohort (a stand-in, not OASIS)" if source.layout == "demo" else source.label
    return f"{text} - {name}" if text else name


def save_figure(figure, out_dir: str | os.PathLike, name: str, dpi: int = 110) -> Path:
    """Save ``figure`` as ``out_dir/name.png`` and return the path.

    In a multi-worker cluster (``TF_CONFIG``) only the chief writes; the other workers
    return the path without touching it (``distributed.is_chief``).
    """
    from oasis_helpers import distributed

    path = Path(out_dir) / f"{name}.png"
    if not distributed.is_chief():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
