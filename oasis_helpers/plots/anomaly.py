"""Anomaly detection (notebook 05): lesioned slices and their masks, the restoration's speed
against its quality, what each method sees, and pixel ROC and precision-recall curves.

The maps are those of :func:`oasis_helpers.anomaly.anomaly_maps` (an ``AnomalyMaps``); the
rows of the trade-off are those of :func:`oasis_helpers.anomaly.restoration_sweep`. This
module draws only: every number it shows was computed by :mod:`oasis_helpers.anomaly`
or, for the curves, by scikit-learn's displays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from oasis_helpers.plots.figures import pyplot
from oasis_helpers.plots.slices import show_slices

__all__ = [
    "plot_anomaly_panels",
    "plot_restoration_tradeoff",
    "plot_roc_pr_curves",
    "plot_score_maps",
    "show_lesions",
]

#: Tissue label of :func:`~oasis_helpers.plots.overlay_mask` that tints a lesion's pixels.
LESION_TINT = 3


def show_lesions(images, masks, count: int = 4, panel_size: float = 2.2):
    """The first ``count`` slices with a lesion (top row) above the same slices with their
    lesion tinted (bottom row).

    Args:
        images: float ``[N, H, W, 1]`` in ``[0, 1]``; masks: bool ``[N, H, W]``.
        count: slices shown at most; panel_size: inches per panel.

    Raises:
        ValueError: no slice has a lesion.
    """
    masks = np.asarray(masks, bool)
    shown = np.flatnonzero(masks.any(axis=(1, 2)))[:count]
    if not len(shown):
        raise ValueError("no slice has a lesion: there is nothing to show")
    tints = [np.where(mask, LESION_TINT, 0) for mask in masks[shown]]
    return show_slices(
        list(np.asarray(images)[shown]) * 2,
        titles=["lesioned slice"] * len(shown) + ["its mask"] * len(shown),
        masks=[np.zeros_like(tint) for tint in tints] + tints,
        columns=len(shown),
        panel_size=panel_size,
    )


def plot_restoration_tradeoff(rows: Sequence[Mapping], residual: Mapping[str, float]):
    """Pixel AUROC and best Dice of restoration against seconds per slice, one line per flag
    quantile (a point per number of restorations, labelled ``R=r``), with the
    reconstruction residual's scores as a dotted line.

    Args:
        rows: :attr:`oasis_helpers.anomaly.RestorationSweep.rows` (``flag_quantile``,
            ``restorations``, ``auroc_pixel``, ``dice_best``, ``seconds_per_slice``).
        residual: the residual's ``auroc_pixel`` and ``dice_best``.
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for quantile in dict.fromkeys(row["flag_quantile"] for row in rows):
        points = [row for row in rows if row["flag_quantile"] == quantile]
        for axis, key in zip(axes, ("auroc_pixel", "dice_best"), strict=True):
            axis.plot(
                [row["seconds_per_slice"] for row in points],
                [row[key] for row in points],
                "o-",
                label=f"flag quantile {quantile:g}",
            )
            for row in points:
                axis.annotate(f"R={row['restorations']}", (row["seconds_per_slice"], row[key]))
    scores = (residual["auroc_pixel"], residual["dice_best"])
    for axis, label, score in zip(axes, ("pixel AUROC", "best Dice"), scores, strict=True):
        axis.axhline(score, color="k", linestyle=":", label="reconstruction residual")
        axis.set_xlabel("seconds per slice")
        axis.set_ylabel(label)
        axis.legend(fontsize=8)
    figure.suptitle(
        "restoration on validation slices: flag threshold and restorations against time"
    )
    figure.tight_layout()
    return figure


def plot_anomaly_panels(images, masks, maps, indices):
    """One row per slice of ``indices``: the input, its reconstruction, the prior's surprise
    per code, the blind-spot model's surprise (when ``maps`` has it), the first healed
    slice, the three anomaly maps and the true mask.

    Args:
        images: float ``[N, H, W, 1]`` in ``[0, 1]``; masks: bool ``[N, H, W]``.
        maps: their :class:`oasis_helpers.anomaly.AnomalyMaps`.
        indices: the slices shown, one row each.
    """
    plt = pyplot()
    columns = [
        ("input", lambda index: images[index, ..., 0], "gray"),
        ("reconstruction", lambda index: maps.reconstructions[index, ..., 0], "gray"),
        ("NLL (bits)", lambda index: maps.nll_bits[index], "magma"),
        ("blind-spot (bits)", lambda index: maps.flag_bits[index], "magma"),
        ("restoration", lambda index: maps.healed[0, index, ..., 0], "gray"),
        ("residual map", lambda index: maps.maps["reconstruction"][index], "magma"),
        ("likelihood map", lambda index: maps.maps["likelihood"][index], "magma"),
        ("restoration map", lambda index: maps.maps["restoration"][index], "magma"),
        ("true mask", lambda index: masks[index], "gray"),
    ]
    if maps.flag_bits is None:  # restoration flagged by the prior itself: no blind-spot map
        columns = [column for column in columns if column[0] != "blind-spot (bits)"]
    rows = max(len(indices), 1)
    figure, axes = plt.subplots(
        rows, len(columns), figsize=(2 * len(columns), 2.1 * rows), squeeze=False
    )
    for row, index in enumerate(indices):
        for column, (title, picture, colours) in enumerate(columns):
            axis = axes[row, column]
            axis.imshow(
                picture(index),
                cmap=colours,
                **({"vmin": 0, "vmax": 1} if colours == "gray" else {}),
            )
            axis.set_title(title if row == 0 else "", fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    return figure


def plot_score_maps(images, masks, maps: Mapping[str, np.ndarray], indices):
    """One row per slice of ``indices``: the input, each of ``maps`` (name -> ``[N, H, W]``,
    e.g. normalised score components, drawn on one shared colour scale per row so that
    their values compare) and the true mask.

    Args:
        images: float ``[N, H, W, 1]`` in ``[0, 1]``; masks: bool ``[N, H, W]``.
        maps: name -> float ``[N, H, W]``.
        indices: the slices shown, one row each.
    """
    plt = pyplot()
    rows = max(len(indices), 1)
    columns = len(maps) + 2
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.3 * rows), squeeze=False)
    for row, index in enumerate(indices):
        top = max(float(np.max(values[index])) for values in maps.values())
        pictures = [("input", images[index, ..., 0], "gray", 1.0)]
        pictures += [(name, values[index], "magma", top) for name, values in maps.items()]
        pictures.append(("true mask", masks[index], "gray", 1.0))
        for column, (title, picture, colours, vmax) in enumerate(pictures):
            axis = axes[row, column]
            axis.imshow(picture, cmap=colours, vmin=0, vmax=max(vmax, 1e-6))
            axis.set_title(title if row == 0 else "", fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    return figure


def plot_roc_pr_curves(maps: Mapping[str, np.ndarray], masks, region):
    """Pixel ROC (left) and precision-recall (right) curves of each map, with chance levels.

    Every pixel of ``region`` is one example, a lesion where ``masks`` is true, scored by
    each map. The curves are scikit-learn's ``RocCurveDisplay`` and
    ``PrecisionRecallDisplay`` (``from_predictions``); the legends give each method's
    area under the ROC curve and its average precision, as those displays compute them
    (the same functions as :func:`oasis_helpers.anomaly.pixel_auroc` and
    :func:`~oasis_helpers.anomaly.pixel_auprc`). Chance is the diagonal for ROC and the
    share of lesion pixels for precision-recall.

    Args:
        maps: method name -> float anomaly maps ``[N, H, W]``.
        masks: bool ``[N, H, W]``; region: bool ``[N, H, W]``, the pixels evaluated.
    """
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    plt = pyplot()
    region = np.asarray(region, bool)
    labels = np.asarray(masks, bool)[region]
    figure, (roc_axis, pr_axis) = plt.subplots(1, 2, figsize=(10, 4))
    chance = {"color": "k", "linestyle": ":", "label": "chance"}
    for number, (method, values) in enumerate(maps.items()):
        scores = np.asarray(values)[region]
        last = number == len(maps) - 1  # one chance line, the last legend entry
        roc = RocCurveDisplay.from_predictions(
            labels, scores, ax=roc_axis, plot_chance_level=last, chance_level_kw=chance
        )
        roc.line_.set_label(f"{method} (AUROC {roc.roc_auc:.3f})")
        pr = PrecisionRecallDisplay.from_predictions(
            labels, scores, ax=pr_axis, plot_chance_level=last, chance_level_kw=chance
        )
        pr.line_.set_label(f"{method} (AUPRC {pr.average_precision:.3f})")
    roc_axis.set(xlabel="false positive rate", ylabel="true positive rate", title="pixel ROC")
    pr_axis.set(xlabel="recall", ylabel="precision", title="pixel precision-recall")
    roc_axis.legend(fontsize=8)
    pr_axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


#: What :func:`plot_lesion_kinds` shows by default, key -> axis label.
LESION_KIND_SCORES = {
    "auroc_pixel": "pixel AUROC",
    "dice_best": "⌈Dice⌉ (optimistic)",
    "dice_at_fpr_5": "Dice at 5 % healthy FPR",
}


def plot_lesion_kinds(rows: Sequence[Mapping], scores: Mapping[str, str] = LESION_KIND_SCORES):
    """Each map's scores on each kind of lesion: one panel per score, a group of bars per kind.

    Args:
        rows: the lesion-kind study's rows (``benchmarks/results/lesion_kinds_demo.json``,
            one candidate's ``rows``): each with the kind's ``name`` and ``methods``, method
            -> scores.
        scores: score key -> axis label.
    """
    plt = pyplot()
    names = [row["name"] for row in rows]
    methods = list(rows[0]["methods"])
    figure, axes = plt.subplots(
        1, len(scores), figsize=(4.2 * len(scores), 0.32 * len(rows) + 1.4), sharey=True
    )
    axes = np.atleast_1d(axes)
    height = 0.8 / len(methods)
    positions = np.arange(len(rows))
    for axis, (key, label) in zip(axes, scores.items(), strict=True):
        for number, method in enumerate(methods):
            values = [row["methods"][method][key] for row in rows]
            axis.barh(positions + (number - (len(methods) - 1) / 2) * height, values, height,
                      label=method)  # fmt: skip
        if key.startswith("auroc"):
            axis.axvline(0.5, color="k", linestyle=":", linewidth=1)
        axis.set_xlim(0, 1)
        axis.set_xlabel(label)
    axes[0].set_yticks(positions, names, fontsize=8)
    axes[0].invert_yaxis()
    axes[-1].legend(fontsize=8, loc="lower right")
    figure.suptitle("which lesions each map finds (one lesion kind a row)")
    figure.tight_layout()
    return figure
