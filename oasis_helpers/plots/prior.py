"""The PixelCNN prior over code grids (notebook 04): receptive fields of its masked
convolutions, bits per code against the baselines, and per-position NLL maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from oasis_helpers.plots.figures import as_2d, pyplot


def plot_receptive_fields(
    fields: dict[str, npt.NDArray[np.bool_]], target: tuple[int, int], size: float = 3.2
):
    """Side-by-side receptive fields (bool ``[h, w]`` maps) with the predicted position marked.

    Green: codes the prediction at ``target`` depends on; red: the position itself.
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, len(fields), figsize=(size * len(fields), size))
    axes = np.atleast_1d(axes)
    for axis, (title, field) in zip(axes, fields.items(), strict=True):
        picture = np.ones(field.shape + (3,))
        picture[field] = (0.25, 0.7, 0.35)
        picture[target] = (0.85, 0.15, 0.15)
        axis.imshow(picture, interpolation="nearest")
        axis.set_xticks(np.arange(-0.5, field.shape[1], 1), minor=True)
        axis.set_yticks(np.arange(-0.5, field.shape[0], 1), minor=True)
        axis.grid(which="minor", color="0.8", linewidth=0.5)
        axis.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        axis.set_title(title)
    figure.tight_layout()
    return figure


def plot_bits_per_code(values: dict[str, float], title: str = "bits per code (test grids)"):
    """Horizontal bars of bits per code for the prior and its baselines (lower is better)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(values)))
    names = list(values)
    axis.barh(names, [values[name] for name in names], color="0.55")
    for index, name in enumerate(names):
        axis.text(values[name], index, f" {values[name]:.2f}", va="center")
    axis.invert_yaxis()
    axis.set(xlabel="bits per code", title=title)
    axis.set_xlim(0, max(values.values()) * 1.15)
    figure.tight_layout()
    return figure


def plot_nll_maps(
    images: npt.ArrayLike,
    nll_maps: npt.ArrayLike,
    titles: Sequence[str] | None = None,
    panel_size: float = 2.4,
):
    """Slices (gray, top row) above their per-position NLL maps in bits (magma, shared scale)."""
    plt = pyplot()
    count = len(images)
    figure, axes = plt.subplots(
        2, count, figsize=(panel_size * count + 0.8, 2 * panel_size), squeeze=False
    )
    top = float(np.percentile(np.asarray(nll_maps), 99.5))
    for index in range(count):
        axes[0, index].imshow(as_2d(images[index]), cmap="gray", vmin=0.0, vmax=1.0)
        shown = axes[1, index].imshow(nll_maps[index], cmap="magma", vmin=0.0, vmax=top)
        axes[0, index].set_title(titles[index] if titles else f"slice {index}", fontsize=9)
        axes[1, index].set_title(f"{np.mean(nll_maps[index]):.2f} bits/code", fontsize=9)
        for axis in axes[:, index]:
            axis.axis("off")
    figure.colorbar(shown, ax=axes[1].tolist(), label="bits", shrink=0.9)
    return figure
