"""The anatomy judge's figure (notebook 04): what the judge reads in each set of slices
against the real slices' anatomy at the same height."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from oasis_helpers.plots.figures import pyplot

__all__ = ["plot_anatomy_by_height"]

_TISSUE_TITLES = ("CSF", "grey matter", "white matter")


def plot_anatomy_by_height(profiles: Mapping[str, Any], size: float = 3.3):
    """Four panels: judged against placed height, then each tissue's area fraction by height.

    Args:
        profiles: set name -> :class:`oasis_helpers.judge.AnatomyProfile` (e.g. ``"prior"``,
            ``"unigram"``, ``"real test"``); all held against the same real profile,
            drawn from the first as its mean and a band of one standard deviation.
        size: inches per panel.

    The first panel shows each slice's judged height against the height it was placed at
    (asked for, or judged: then on the diagonal); the tissue panels show each slice's
    judged fraction at its placed height. Points of a set that holds a real brain's
    anatomy fall inside the band.
    """
    if not profiles:
        raise ValueError("profiles is empty: give at least one set's anatomy profile")
    plt = pyplot()
    figure, axes = plt.subplots(1, 4, figsize=(4 * size, size))
    first = next(iter(profiles.values()))
    axes[0].plot([0, 1], [0, 1], color="0.6", linewidth=1, label="judged = placed")
    for tissue, axis in enumerate(axes[1:]):
        mean, std = first.real_mean[:, tissue], first.real_std[:, tissue]
        axis.fill_between(
            first.bin_centres,
            mean - std,
            mean + std,
            color="0.85",
            label="real training slices (mean ± std)",
        )
        axis.plot(first.bin_centres, mean, color="0.4", linewidth=1.5)
        axis.set_title(f"{_TISSUE_TITLES[tissue]} fraction")
        axis.set_xlabel("height (placed)")
        axis.set_xlim(0, 1)
    for colour, (name, profile) in enumerate(profiles.items()):
        style = {"s": 10, "alpha": 0.7, "color": f"C{colour}", "label": name}
        error = "" if profile.height_error is None else f" (error {profile.height_error:.3f})"
        axes[0].scatter(
            profile.placed_heights, profile.judged_heights, **{**style, "label": name + error}
        )
        for tissue, axis in enumerate(axes[1:]):
            axis.scatter(profile.placed_heights, profile.judged_tissues[:, tissue], **style)
    axes[0].set_xlabel("height (placed)")
    axes[0].set_ylabel("height (judged)")
    axes[0].set_title("where the judge puts each slice")
    axes[0].set_xlim(0, 1)
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].legend(fontsize=7, loc="best")
    axes[1].set_ylabel("area fraction (judged)")
    for axis in axes[1:]:
        axis.set_ylim(bottom=max(0.0, float(np.nanmin(axis.get_ylim()))))
    figure.tight_layout()
    return figure
