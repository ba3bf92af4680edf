"""Notebook 05's restoration pipeline: flag, heal, compare (:func:`draw_restoration_pipeline`)."""

from __future__ import annotations

import numpy as np

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.diagrams.shown import shown_values

__all__ = [
    "draw_restoration_pipeline",
]


_BRAIN_CODES = ("#9ecae1", "#6baed6", "#c7e9c0", "#a1d99b", "#bcbddc", "#dadaeb", "#fdd0a2")


def _code_icons(size: int = 8):
    """Schematic ``size x size`` code grids: ``(observed, healed, flagged)``.

    An elliptic brain of codes (colours) on background codes (grey) with a 2 x 2 lesion
    (orange); the flags are the lesion dilated by one code, within the brain; the healed
    grid has brain codes where the lesion was.
    """
    rows, columns = np.mgrid[:size, :size]
    centre = (size - 1) / 2
    brain = ((rows - centre) / (size * 0.45)) ** 2 + ((columns - centre) / (size * 0.38)) ** 2 <= 1
    lesion = (rows >= 2) & (rows <= 3) & (columns >= 4) & (columns <= 5)
    flagged = np.zeros_like(brain)
    for row, column in zip(*np.nonzero(lesion), strict=True):
        flagged[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2] = True
    codes = (3 * rows + 5 * columns) % len(_BRAIN_CODES)
    healed = np.where(brain, np.asarray(_BRAIN_CODES)[codes], "#4a4a4a")
    observed = np.where(lesion, "#e6550d", healed)
    return observed.tolist(), healed.tolist(), (flagged & brain).tolist()


def _pipeline_texts() -> dict[str, str]:
    """The texts of the restoration pipeline's boxes, with the package's defaults."""
    shown = shown_values()
    smoothing, quantiles = shown["flag_smoothing"], shown["flag_quantiles"]
    candidates = f"{kit.listed(quantiles[:-1])} or {quantiles[-1]:g}"
    median = shown["median_size"]
    return {
        "flag": "the blind-spot model's surprise\n"
        r"$-\log_2 p(z_{ij}\,|\,$codes around it$)$"
        f"\n{smoothing}×{smoothing} mean < flag threshold,\n"
        f"dilated by {shown['flag_dilation']}, brain codes only",
        "thresholds": "flag: a quantile of the blind-spot model's p\n"
        f"({candidates}: the best on validation lesions)\n"
        f"restoration: the {shown['restoration_quantile']:g} quantile of the prior's p",
        "heal": "raster order; where flagged\nand "
        r"$p(z_{ij}\,|\,$healed $z_{<ij})$"
        "\nis below the restoration\nthreshold, draw a new\n"
        r"$z_{ij}$ from the prior",
        "difference": r"$|G_\sigma * (x - x_\mathrm{healed})|$"
        f"\nσ = {shown['difference_smoothing']:g}, mean over\nthe R restorations",
        "post": f"brain region,\nmedian {median}×{median}",
    }


def draw_restoration_pipeline():
    """Notebook 05's restoration map (``oasis_helpers.anomaly.anomaly_maps``), schematically.

    Encode the slice to its code grid; flag the codes that the blind-spot model finds
    surprising given the codes around them (a 3 x 3 mean below the flag threshold, dilated
    by one code, brain codes only); heal in raster order: where flagged and the prior finds
    the code unlikely given the healed codes before it, draw a new one from the prior;
    decode; the map is ``|G_sigma * (x - x_healed)|`` averaged over the ``R`` restorations,
    restricted to the brain and median-filtered. Both thresholds are quantiles of what the
    models say about healthy validation slices.
    """
    shown = shown_values()
    height = 5.6
    figure, axis = kit.canvas(height)
    texts = _pipeline_texts()
    observed, healed, flagged = _code_icons()
    title = "notebook 05: an anomaly map by restoration (anomaly.anomaly_maps)"
    kit.label(axis, kit.WIDTH / 2, height - 0.22, title, size=kit.TEXT + 1, weight="bold")
    icon, cell = 0.72, 0.09
    top, bottom = 4.3, 1.15  # centres of the two rows
    # the top row: slice -> encode -> codes -> flag -> where to heal
    x = kit.Box(0.15, top - icon / 2, icon, icon)
    kit.slice_icon(axis, x, lesion="bright")
    encode = kit.box(
        axis, (1.1, top - 0.6, 1.15, 1.2), "VQ-VAE encoder,\nnearest code", title="encode"
    )
    codes = kit.grid_icon(axis, 2.5, top - icon / 2, cell, observed)
    flag = kit.box(axis, (3.45, top - 0.6, 2.25, 1.2), texts["flag"], title="flag")
    region = kit.grid_icon(axis, 5.95, top - icon / 2, cell, observed, marks=flagged)
    for before, after in [(x, encode), (encode, codes), (codes, flag), (flag, region)]:
        kit.arrow(axis, before.right(), after.left())
    # the thresholds, between the rows
    title = "thresholds: healthy validation slices"
    thresholds = kit.box(axis, (2.95, 2.58, 3.85, 0.85), texts["thresholds"], "threshold", title)
    kit.arrow(axis, thresholds.top(flag.cx - thresholds.cx), flag.bottom())
    # the bottom row, right to left: heal -> healed codes -> decode -> x_healed -> ... -> map
    title = f"heal (R ≤ {shown['num_restorations']} times)"
    heal = kit.box(axis, (7.0, 0.4, 1.85, 1.95), texts["heal"], title=title)
    kit.arrow(axis, region.right(), (8.45, region.cy), heal.top(8.45 - heal.cx))
    kit.arrow(axis, thresholds.right(), (7.4, thresholds.cy), heal.top(7.4 - heal.cx))
    healed_codes = kit.grid_icon(axis, 6.05, bottom - icon / 2, cell, healed)
    decode = kit.box(axis, (4.95, bottom - 0.6, 0.9, 1.2), "VQ-VAE\ndecoder", title="decode")
    x_healed = kit.Box(4.0, bottom - icon / 2, icon, icon)
    kit.slice_icon(axis, x_healed)
    difference = kit.box(
        axis, (2.3, bottom - 0.6, 1.45, 1.2), texts["difference"], title="difference"
    )
    post = kit.box(axis, (1.05, bottom - 0.6, 1.05, 1.2), texts["post"], title="post-\nprocess")
    anomaly_map = kit.Box(0.15, bottom - icon / 2, icon, icon)
    kit.slice_icon(axis, anomaly_map, lesion="map")
    chain = [heal, healed_codes, decode, x_healed, difference, post, anomaly_map]
    for before, after in zip(chain, chain[1:], strict=False):
        kit.arrow(axis, before.left(bottom - before.cy), after.right())
    kit.arrow(axis, x.bottom(), (x.cx, 2.4), (difference.cx, 2.4), difference.top())
    kit.label(axis, x.cx, x.y + x.height + 0.17, r"$x$: the slice")
    captions = [
        (codes, r"$z$: its codes"),
        (region, "where to heal"),
        (healed_codes, "healed codes"),
        (x_healed, r"$x_\mathrm{healed}$"),
        (anomaly_map, "anomaly map"),
    ]
    for box, text in captions:
        kit.label(axis, box.cx, box.y - 0.17, text)
    return figure
