"""A slice as codes (notebook 03): how many numbers describe a slice after each layer of the
VQ-VAE, down to one integer per position of the code grid, and code grids drawn under the
slices they describe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.plots.figures import as_2d, pyplot

#: Bar colours of :func:`plot_numbers_per_slice`, by the ``part`` of a layer.
PART_COLOURS = {"encoder": "tab:blue", "quantizer": "tab:red", "decoder": "tab:green"}


def plot_numbers_per_slice(table: Sequence[Mapping[str, Any]], image_size: int, figsize=(12, 3.5)):
    """How many numbers describe one slice after each layer: one bar per row of ``table``.

    Args:
        table: rows of :func:`oasis_helpers.models.layer_shape_table` (``part``, ``layer``,
            ``output_shape`` without the batch axis, e.g. ``(64, 64, 16)``). An encoder or
            decoder layer counts every number of its output; the quantizer counts one
            integer per position of its ``[h, w, D]`` output (``h * w``: the code grid).
        image_size: side ``S`` of the slice; a dashed line marks its ``S**2`` pixels.

    Returns:
        A figure with one axis (log scale), bars coloured by part (:data:`PART_COLOURS`).
    """
    plt = pyplot()
    sizes = [
        int(
            np.prod(row["output_shape"][:-1] if row["part"] == "quantizer" else row["output_shape"])
        )
        for row in table
    ]
    figure, axis = plt.subplots(figsize=figsize)
    axis.bar(range(len(table)), sizes, color=[PART_COLOURS[row["part"]] for row in table])
    axis.axhline(image_size**2, color="0.4", linestyle="--", label="pixels of the slice")
    axis.set_yscale("log")
    axis.set_xticks(range(len(table)), [row["layer"] for row in table], rotation=75, fontsize=7)
    axis.set(
        ylabel="numbers per slice",
        title="numbers per slice through the VQ-VAE "
        "(blue: encoder; red: the code grid, one integer per position; green: decoder)",
    )
    axis.legend(fontsize=8)
    return figure


def plot_code_grids(
    images: npt.ArrayLike,
    codes: npt.ArrayLike,
    slice_ids: npt.ArrayLike | None = None,
    count: int = 4,
):
    """Slices (top row) above their code grids (bottom row, one colour per code index).

    Args:
        images: float ``[N, H, W, 1]`` (or ``[N, H, W]``) in ``[0, 1]``.
        codes: int ``[N, h, w]``, the code grid of each slice (e.g. ``model.encode(images)``).
        slice_ids: optional ``[N]`` slice ids for the titles.
        count: panels; the slices shown are evenly spaced over the ``N``.

    Returns:
        A figure of 2 rows and ``min(count, N)`` columns. Colours (``tab20``) are arbitrary
        and repeat every 20 codes.
    """
    plt = pyplot()
    if len(images) != len(codes):
        raise ValueError(f"got {len(images)} images but {len(codes)} code grids")
    shown = np.linspace(0, len(images) - 1, min(count, len(images))).astype(int)
    figure, axes = plt.subplots(2, len(shown), figsize=(3 * len(shown), 6), squeeze=False)
    for column, index in enumerate(shown):
        grid = np.asarray(codes[index])
        axes[0, column].imshow(as_2d(images[index]), cmap="gray", vmin=0, vmax=1)
        title = f"slice {slice_ids[index]}" if slice_ids is not None else f"slice {index}"
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(grid, cmap="tab20", interpolation="nearest")
        axes[1, column].set_title(f"{grid.shape[0]} x {grid.shape[1]} codes", fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.tight_layout()
    return figure
