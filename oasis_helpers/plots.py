"""Figures shared by the notebooks: slice grids, intensity histograms, mask overlays.

Every figure function returns a matplotlib ``Figure`` (the notebook shows it and
may save it with :func:`save_figure`); :func:`markdown_table` returns a table for
``display``. Images are float ``[H, W]`` or ``[H, W, 1]`` in ``[0, 1]`` and are
drawn in gray with a fixed ``[0, 1]`` range, so that intensities can be compared
between panels. Titles of demo data say that it is a stand-in, not OASIS
(:func:`source_title`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

#: Colours of the tissue labels 1 CSF, 2 grey matter, 3 white matter (RGB in [0, 1]).
TISSUE_COLOURS = {1: (0.20, 0.55, 1.00), 2: (1.00, 0.55, 0.10), 3: (0.25, 0.85, 0.35)}
TISSUE_NAMES = {1: "CSF", 2: "grey matter", 3: "white matter"}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _as_2d(image) -> np.ndarray:
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


def overlay_mask(image, mask, alpha: float = 0.4) -> np.ndarray:
    """An RGB ``[H, W, 3]`` picture: the gray slice with tissue labels tinted over it.

    ``mask`` holds labels 0 (background, not tinted), 1 CSF, 2 grey, 3 white matter.
    """
    gray = np.clip(_as_2d(image), 0.0, 1.0)
    picture = np.repeat(gray[..., None], 3, axis=-1)
    labels = np.asarray(mask)
    for label, colour in TISSUE_COLOURS.items():
        where = labels == label
        picture[where] = (1 - alpha) * picture[where] + alpha * np.asarray(colour)
    return picture


def show_slices(
    images: Sequence | np.ndarray,
    titles: Sequence[str] | None = None,
    columns: int = 8,
    masks: Sequence | np.ndarray | None = None,
    suptitle: str | None = None,
    panel_size: float = 1.7,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
):
    """A grid of slices (with tissue masks tinted over them when ``masks`` is given).

    Args:
        images: ``N`` images ``[H, W]`` or ``[H, W, 1]``.
        titles: optional ``N`` panel titles.
        columns: panels per row.
        masks: optional ``N`` label masks ``[H, W]`` (0..3).
        suptitle: figure title.
        panel_size: inches per panel.
        cmap, vmin, vmax: how gray images are drawn (fixed ``[0, 1]`` by default).
    """
    plt = _plt()
    count = len(images)
    if count == 0:
        raise ValueError("show_slices needs at least one image")
    columns = max(1, min(columns, count))
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(panel_size * columns, panel_size * rows + 0.4), squeeze=False
    )
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= count:
            continue
        if masks is not None:
            axis.imshow(overlay_mask(images[index], masks[index]))
        else:
            axis.imshow(_as_2d(images[index]), cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            axis.set_title(titles[index], fontsize=8)
    if suptitle:
        figure.suptitle(suptitle, fontsize=10)
    figure.tight_layout()
    return figure


def split_grid(source, per_split: int = 6, seed: int = 0, with_masks: bool = False):
    """One row per split: ``per_split`` slices from different subjects where possible.

    Panel titles give the subject and slice id; the figure title names the source.
    """
    plt = _plt()
    rng = np.random.default_rng(seed)
    splits = [name for name, split in source.splits.items() if len(split)]
    figure, axes = plt.subplots(
        len(splits), per_split, figsize=(1.8 * per_split, 2.0 * len(splits) + 0.4), squeeze=False
    )
    for row, name in enumerate(splits):
        split = source.splits[name]
        subjects = split.subjects
        picks = []
        for subject in rng.permutation(subjects)[:per_split]:
            indices = split.subject_slices(subject)
            picks.append(int(rng.choice(indices[len(indices) // 4 : len(indices) * 3 // 4 + 1])))
        extra = [i for i in rng.permutation(len(split)) if i not in picks]
        picks += extra[: per_split - len(picks)]
        for column, axis in enumerate(axes[row]):
            axis.axis("off")
            if column >= len(picks):
                continue
            index = picks[column]
            show_mask = with_masks and split.masks is not None
            if show_mask:
                axis.imshow(overlay_mask(split.images[index], split.masks[index]))
            else:
                axis.imshow(_as_2d(split.images[index]), cmap="gray", vmin=0, vmax=1)
            axis.set_title(
                f"{name}: {split.subject_ids[index]} / {int(split.slice_ids[index])}", fontsize=8
            )
    figure.suptitle(source_title(source, "slices per split (subject / slice)"), fontsize=10)
    figure.tight_layout()
    return figure


def intensity_histograms(source, bins: int = 64, brain_only: bool = True, max_pixels=2_000_000):
    """Intensity histograms per split (density), optionally of brain pixels only.

    ``brain_only`` drops exact-zero background pixels, which otherwise dwarf the
    rest; at most ``max_pixels`` pixels per split are used (an even subsample).
    """
    plt = _plt()
    figure, axis = plt.subplots(figsize=(7, 3.6))
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, split in source.splits.items():
        if not len(split):
            continue
        pixels = split.pixels.reshape(-1)  # uint8, image = pixels / 255: no float copy
        step = max(1, pixels.size // max_pixels)
        values = pixels[::step] * np.float32(1.0 / 255.0)
        if brain_only:
            values = values[values > 0]
        if values.size == 0:
            continue
        axis.hist(values, bins=edges, density=True, histtype="step", linewidth=1.6, label=name)
    axis.set_xlabel("intensity" + (" (brain pixels, > 0)" if brain_only else ""))
    axis.set_ylabel("density")
    axis.set_xlim(0, 1)
    axis.legend()
    axis.set_title(source_title(source, "intensity histograms"), fontsize=10)
    figure.tight_layout()
    return figure


def mask_overlays(source, split: str = "train", count: int = 6, seed: int = 0):
    """Slices with their tissue masks tinted over them, and the masks alone below.

    Raises:
        ValueError: the split has no masks.
    """
    plt = _plt()
    data_split = source.splits[split]
    if data_split.masks is None:
        raise ValueError(f"the {split} split of this source has no tissue masks")
    rng = np.random.default_rng(seed)
    candidates = np.arange(len(data_split))
    if data_split.mask_present is not None and data_split.mask_present.any():
        candidates = np.flatnonzero(data_split.mask_present)
    picks = np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
    figure, axes = plt.subplots(2, len(picks), figsize=(1.9 * len(picks), 4.4), squeeze=False)
    for column, index in enumerate(picks):
        axes[0, column].imshow(overlay_mask(data_split.images[index], data_split.masks[index]))
        axes[0, column].set_title(
            f"{data_split.subject_ids[index]} / {int(data_split.slice_ids[index])}", fontsize=8
        )
        axes[1, column].imshow(data_split.masks[index], cmap="viridis", vmin=0, vmax=3)
        for row in range(2):
            axes[row, column].axis("off")
    handles = [
        plt.matplotlib.patches.Patch(color=TISSUE_COLOURS[label], label=name)
        for label, name in TISSUE_NAMES.items()
    ]
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.suptitle(source_title(source, f"tissue masks ({split})"), fontsize=10)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def augmentation_examples(images, augmented, count: int = 6):
    """Original slices (top) next to augmented versions of them (bottom)."""
    plt = _plt()
    count = min(count, len(images), len(augmented))
    figure, axes = plt.subplots(2, count, figsize=(1.8 * count, 4.0), squeeze=False)
    for column in range(count):
        axes[0, column].imshow(_as_2d(images[column]), cmap="gray", vmin=0, vmax=1)
        axes[1, column].imshow(_as_2d(augmented[column]), cmap="gray", vmin=0, vmax=1)
        for row in range(2):
            axes[row, column].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("augmented", fontsize=8, loc="left")
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------------------------------------
# The vector quantizer (notebook 02)
# ---------------------------------------------------------------------------------------------
def plot_voronoi(ax, layer, points=None, extent=(-3, 3, -3, 3), resolution: int = 300):
    """Colour a 2D plane by nearest code (the Voronoi cells) and draw points and codes.

    ``layer`` is an :mod:`oasis_helpers.quantizer` layer with ``embedding_dim == 2``:
    every grid position is quantized with ``layer.code_indices``, so the picture is the
    layer's own decision. ``points``: optional float ``[M, 2]``. Returns ``ax``.
    """
    if layer.embedding_dim != 2:
        raise ValueError(
            f"plot_voronoi needs a 2D codebook, got embedding_dim={layer.embedding_dim}"
        )
    x_grid, y_grid = np.meshgrid(
        np.linspace(extent[0], extent[1], resolution), np.linspace(extent[2], extent[3], resolution)
    )
    grid = np.stack([x_grid.ravel(), y_grid.ravel()], axis=1).astype(np.float32)
    cells = np.asarray(layer.code_indices(grid)).reshape(x_grid.shape)
    ax.imshow(
        cells,
        origin="lower",
        extent=extent,
        cmap="tab20",
        alpha=0.35,
        interpolation="nearest",
        vmin=0,
        vmax=max(layer.num_embeddings - 1, 1),
    )
    if points is not None:
        points = np.asarray(points)
        ax.scatter(points[:, 0], points[:, 1], s=6, c="0.25", alpha=0.6, label="encoder outputs")
    codebook = np.asarray(layer.codebook)
    ax.scatter(codebook[:, 0], codebook[:, 1], s=90, c="crimson", marker="*", label="codes")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    return ax


def plot_quantizer_training(histories: dict[str, dict], num_embeddings: int, figsize=(12, 3.6)):
    """Batch perplexity, batch codebook usage and restarts per step, one line per variant.

    ``histories``: ``{name: history}`` as :func:`oasis_helpers.quantizer.fit_to_vectors`
    returns (``batch_perplexity``, ``batch_codebook_usage``, ``dead_codes_restarted``).
    """
    plt = _plt()
    figure, axes = plt.subplots(1, 3, figsize=figsize)
    for name, history in histories.items():
        axes[0].plot(history["batch_perplexity"], label=name)
        axes[1].plot(history["batch_codebook_usage"], label=name)
        axes[2].plot(history["dead_codes_restarted"], label=name)
    axes[0].set(title="batch perplexity", xlabel="step")
    axes[1].set(title=f"batch codebook usage (K={num_embeddings})", xlabel="step", ylim=(0, 1.02))
    axes[2].set(title="dead codes restarted (total)", xlabel="step")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_code_frequencies(healths: dict[str, dict], figsize=(6, 3.6)):
    """Rank-frequency plot: code frequencies sorted from the most used, one line per variant.

    ``healths``: ``{name: health}`` as :func:`oasis_helpers.metrics.codebook_health`
    returns (``counts``, ``code_perplexity``).
    """
    plt = _plt()
    figure, ax = plt.subplots(figsize=figsize)
    for name, health in healths.items():
        counts = np.sort(np.asarray(health["counts"], dtype=np.float64))[::-1]
        frequencies = counts / max(counts.sum(), 1.0)
        label = f"{name} (perplexity {health['code_perplexity']:.1f})"
        ax.plot(
            np.arange(1, len(counts) + 1),
            np.where(frequencies > 0, frequencies, np.nan),
            label=label,
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="code rank",
        ylabel="fraction of vectors",
        title="how often each code is used",
    )
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_size_sweep(results: Sequence[dict], figsize=(12, 3.6)):
    """Usage, perplexity and reconstruction error against codebook size.

    ``results``: dicts with ``variant``, ``num_embeddings``, ``codebook_usage``,
    ``code_perplexity`` and ``reconstruction_mse`` (as
    :func:`oasis_helpers.metrics.codebook_health` gives).
    """
    plt = _plt()
    figure, axes = plt.subplots(1, 3, figsize=figsize)
    for variant in sorted({row["variant"] for row in results}):
        rows = sorted(
            (row for row in results if row["variant"] == variant),
            key=lambda row: row["num_embeddings"],
        )
        sizes = [row["num_embeddings"] for row in rows]
        axes[0].plot(sizes, [row["codebook_usage"] for row in rows], "o-", label=variant)
        axes[1].plot(sizes, [row["code_perplexity"] for row in rows], "o-", label=variant)
        axes[2].plot(sizes, [row["reconstruction_mse"] for row in rows], "o-", label=variant)
    axes[0].set(title="codebook usage", ylim=(0, 1.02))
    axes[1].set(title="perplexity")
    axes[2].set(title="patch reconstruction MSE", yscale="log")
    for ax in axes:
        ax.set(xscale="log", xlabel="codebook size K")
        ax.set_xticks(sorted({row["num_embeddings"] for row in results}))
        ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
        ax.minorticks_off()
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def show_codebook(
    layer, patch_size: int, counts=None, columns: int = 32, max_codes: int = 256, figsize=(10, 3)
):
    """Draw codes as ``patch_size x patch_size`` tiles, most used first when ``counts`` given.

    ``layer``: a quantizer whose codes are flattened patches (``D = patch_size**2``).
    """
    if layer.embedding_dim != patch_size * patch_size:
        raise ValueError(
            f"show_codebook needs embedding_dim = patch_size**2, got {layer.embedding_dim} "
            f"and patch_size {patch_size}"
        )
    plt = _plt()
    codebook = np.asarray(layer.codebook)
    order = np.argsort(-np.asarray(counts)) if counts is not None else np.arange(len(codebook))
    order = order[:max_codes]
    rows = int(np.ceil(len(order) / columns))
    step = patch_size + 1
    canvas = np.full((rows * step, columns * step), np.nan)
    for position, code in enumerate(order):
        row, col = divmod(position, columns)
        canvas[row * step : row * step + patch_size, col * step : col * step + patch_size] = (
            codebook[code].reshape(patch_size, patch_size)
        )
    figure, ax = plt.subplots(figsize=figsize)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------------------------------------
# Training curves (notebook 03)
# ---------------------------------------------------------------------------------------------
#: Panels of :func:`plot_history`: (title, training key); ``val_`` + key is drawn too.
HISTORY_PANELS = (
    ("total loss", "loss"),
    ("reconstruction loss (MSE)", "reconstruction_loss"),
    ("quantizer loss", "quantizer_loss"),
    ("perplexity (mean over batches)", "batch_perplexity"),
    ("codebook usage (mean over batches)", "batch_codebook_usage"),
    ("learning rate", "learning_rate"),
)


def plot_history(history: dict[str, list[float]], figure=None):
    """Training curves (and validation curves where logged), one panel per quantity.

    Args:
        history: ``{key: [value per epoch]}`` (e.g. ``FitResult.history`` or
            ``training.read_history(run_dir)``); missing keys are skipped.
        figure: a matplotlib figure to draw into (cleared), or ``None`` for a new one.

    Returns:
        The matplotlib figure. Losses and the learning rate use a log scale.
    """
    import math

    plt = _plt()
    panels = [(title, key) for title, key in HISTORY_PANELS if history.get(key)]
    figure = figure or plt.figure(figsize=(4 * min(3, max(1, len(panels))), 6))
    figure.clear()
    columns = 3
    rows = max(1, math.ceil(len(panels) / columns))
    for index, (title, key) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, index + 1)
        values = history[key]
        epochs = np.arange(1, len(values) + 1)
        axis.plot(epochs, values, marker=".", label="train")
        if history.get(f"val_{key}") and key != "learning_rate":
            axis.plot(epochs, history[f"val_{key}"], marker=".", label="validation")
            axis.legend(fontsize=8)
        if "loss" in key or key == "learning_rate":
            positive = [value for value in values if np.isfinite(value) and value > 0]
            if positive:
                axis.set_yscale("log")
        axis.set(title=title, xlabel="epoch")
    figure.tight_layout()
    return figure


class LivePlot(keras.callbacks.Callback):
    """Redraw :func:`plot_history` in a notebook after every epoch (live training curves).

    ``previous`` is the history of earlier calls (e.g. ``training.read_history(run_dir)``),
    so that a resumed run shows its whole past. Needs IPython; use it only in an
    interactive session (a headless run gets the static figure after training).
    """

    def __init__(self, previous: dict[str, list[float]] | None = None):
        super().__init__()
        self.history = {key: list(values) for key, values in (previous or {}).items()}
        self._figure = None
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        from IPython.display import display

        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self._figure is None:
            self._figure = _plt().figure(figsize=(12, 6))
        plot_history(self.history, self._figure)
        if self._handle is None:
            self._handle = display(self._figure, display_id=True)
        else:
            self._handle.update(self._figure)

    def on_train_end(self, logs=None):
        if self._figure is not None:
            _plt().close(self._figure)


# ---------------------------------------------------------------------------------------------
# The VQ-VAE (notebook 03)
# ---------------------------------------------------------------------------------------------
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
    plt = _plt()
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


def plot_reconstruction_metrics(
    per_slice: Mapping[str, np.ndarray], ssim_mark: float = 0.95, figsize=(11, 3.5)
):
    """Histograms of per-slice SSIM and PSNR, over the whole slice and inside the brain.

    Args:
        per_slice: ``{"ssim", "ssim_brain", "psnr", "psnr_brain"} -> float [N]`` (as
            :func:`oasis_helpers.metrics.evaluate_reconstructions` returns under
            ``"per_slice"``). NaN (a slice without brain) is left out; a whole-slice PSNR
            is capped at :data:`oasis_helpers.metrics.MAX_PSNR` (a perfect copy is infinite).
        ssim_mark: SSIM at which a dashed line is drawn.

    Returns:
        A figure with two axes: SSIM (left) and PSNR in dB (right), whole slice and brain.
    """
    from oasis_helpers.metrics import MAX_PSNR

    plt = _plt()
    ssim, ssim_brain = np.asarray(per_slice["ssim"]), np.asarray(per_slice["ssim_brain"])
    psnr, psnr_brain = np.asarray(per_slice["psnr"]), np.asarray(per_slice["psnr_brain"])
    figure, axes = plt.subplots(1, 2, figsize=figsize)
    bins = np.linspace(min(np.nanmin(ssim_brain), np.nanmin(ssim)), 1, 30)
    axes[0].hist(ssim, bins=bins, alpha=0.7, label="whole slice")
    axes[0].hist(ssim_brain[np.isfinite(ssim_brain)], bins=bins, alpha=0.7, label="brain")
    axes[0].axvline(ssim_mark, color="0.3", linestyle="--", linewidth=1)
    axes[0].set(title=f"SSIM on {len(ssim)} test slices", xlabel="SSIM", ylabel="slices")
    axes[1].hist(np.minimum(psnr, MAX_PSNR), bins=30, alpha=0.7, label="whole slice")
    axes[1].hist(psnr_brain[np.isfinite(psnr_brain)], bins=30, alpha=0.7, label="brain")
    axes[1].set(title="PSNR", xlabel="dB")
    for axis in axes:
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _row_label(axis, text: str) -> None:
    """Write ``text`` vertically left of an image axis (the name of a row of panels)."""
    axis.text(
        -0.08, 0.5, text, transform=axis.transAxes, rotation=90, va="center", ha="right", fontsize=9
    )


def plot_best_and_worst(
    images,
    reconstructions,
    per_slice: Mapping[str, np.ndarray],
    split=None,
    count: int = 3,
    error_max: float = 0.25,
):
    """The slices with the highest and the lowest brain SSIM: original, reconstruction, error.

    Args:
        images, reconstructions: float ``[N, H, W, 1]`` (or ``[N, H, W]``) in ``[0, 1]``.
        per_slice: ``"ssim"``, ``"ssim_brain"``, ``"psnr"`` -> float ``[N]`` (as
            :func:`oasis_helpers.metrics.evaluate_reconstructions` gives). Slices without
            brain (NaN) count as the best.
        split: optional data split whose ``subject_ids`` and ``slice_ids`` name the slices.
        count: slices of each kind (at most ``N``).
        error_max: top of the colour scale of ``|error|``.

    Returns:
        A figure of 3 rows (original, reconstruction, absolute error) and ``2 * count``
        columns: the best first (highest brain SSIM first), then the worst (lowest first).
    """
    plt = _plt()
    order = np.argsort(np.nan_to_num(np.asarray(per_slice["ssim_brain"]), nan=np.inf))
    count = min(count, len(order))
    chosen = [*order[::-1][:count], *order[:count]]
    labels = ["best"] * count + ["worst"] * count
    names = [
        f"{split.subject_ids[index]}\nslice {split.slice_ids[index]}"
        if split is not None
        else f"slice {index}"
        for index in chosen
    ]
    figure, axes = plt.subplots(3, len(chosen), figsize=(2.4 * len(chosen), 7.4), squeeze=False)
    for column, index in enumerate(chosen):
        image, reconstruction = _as_2d(images[index]), _as_2d(reconstructions[index])
        axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(f"{labels[column]}: {names[column]}", fontsize=8)
        axes[1, column].imshow(reconstruction, cmap="gray", vmin=0, vmax=1)
        axes[1, column].set_title(
            f"SSIM {per_slice['ssim'][index]:.3f} / brain {per_slice['ssim_brain'][index]:.3f}",
            fontsize=8,
        )
        axes[2, column].imshow(np.abs(image - reconstruction), cmap="magma", vmin=0, vmax=error_max)
        axes[2, column].set_title(f"|error|, PSNR {per_slice['psnr'][index]:.1f} dB", fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    for row, name in enumerate(["original", "reconstruction", "absolute error"]):
        _row_label(axes[row, 0], name)
    figure.tight_layout()
    return figure


def plot_code_grids(images, codes, slice_ids=None, count: int = 4):
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
    plt = _plt()
    if len(images) != len(codes):
        raise ValueError(f"got {len(images)} images but {len(codes)} code grids")
    shown = np.linspace(0, len(images) - 1, min(count, len(images))).astype(int)
    figure, axes = plt.subplots(2, len(shown), figsize=(3 * len(shown), 6), squeeze=False)
    for column, index in enumerate(shown):
        grid = np.asarray(codes[index])
        axes[0, column].imshow(_as_2d(images[index]), cmap="gray", vmin=0, vmax=1)
        title = f"slice {slice_ids[index]}" if slice_ids is not None else f"slice {index}"
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(grid, cmap="tab20", interpolation="nearest")
        axes[1, column].set_title(f"{grid.shape[0]} x {grid.shape[1]} codes", fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def _cell_text(value: Any, format: str | Callable[[Any], str] | None, float_format: str) -> str:
    if callable(format):
        text = format(value)
    elif format is not None:
        text = format.format(value)
    elif isinstance(value, float | np.floating):
        text = float_format.format(value)
    elif isinstance(value, tuple):
        text = " x ".join(str(item) for item in value)
    else:
        text = str(value)
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    float_format: str = "{:.3f}",
):
    """A Markdown table of ``rows``, for a notebook to ``display``.

    Args:
        rows: dicts (a cell is ``row[key]``; other keys are ignored) or sequences (one
            value per column, in order), e.g. ``results.items()``.
        columns: the column keys in order, or ``{key: header}``. With a list, a header is
            its key with spaces for underscores (``"output_shape"`` -> ``output shape``).
            ``None``: the keys of the first (dict) row. Sequence rows need ``columns``
            (their keys are the headers).
        formats: ``{key: format}``, a ``str.format`` template (``"{:.1%}"``, ``"{:,}"``,
            ``"`{}`"``) or a function of the value that returns the cell's text.
        float_format: the template of floats without a format of their own. Tuples
            without one are joined with ``" x "`` (shapes: ``64 x 64 x 16``); anything
            else is ``str(value)``. A ``|`` in a cell is escaped, a newline becomes a space.

    Returns:
        ``IPython.display.Markdown``; its text is ``.data``: a header line, a ``|---|``
        line and one line per row.

    Raises:
        ValueError: no columns (or none given for sequence rows), or a sequence row
            whose length is not the number of columns.
    """
    from IPython.display import Markdown

    rows = list(rows)
    if columns is None:
        if not rows or not isinstance(rows[0], Mapping):
            raise ValueError("markdown_table needs columns unless the rows are dicts")
        columns = list(rows[0])
    headers = (
        dict(columns)
        if isinstance(columns, Mapping)
        else {key: key.replace("_", " ") for key in columns}
    )
    if not headers:
        raise ValueError("markdown_table needs at least one column")
    keys, formats = list(headers), dict(formats or {})
    lines = ["| " + " | ".join(headers.values()) + " |", "|" + "---|" * len(keys)]
    for number, row in enumerate(rows):
        if isinstance(row, Mapping):
            values = [row[key] for key in keys]
        else:
            values = list(row)
            if len(values) != len(keys):
                raise ValueError(
                    f"row {number} has {len(values)} values for {len(keys)} columns {keys}"
                )
        cells = [
            _cell_text(value, formats.get(key), float_format)
            for key, value in zip(keys, values, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


# -- the PixelCNN prior (notebook 04) -------------------------------------------------------------
def plot_receptive_fields(
    fields: dict[str, np.ndarray], target: tuple[int, int], size: float = 3.2
):
    """Side-by-side receptive fields (bool ``[h, w]`` maps) with the predicted position marked.

    Green: codes the prediction at ``target`` depends on; red: the position itself.
    """
    plt = _plt()
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
    plt = _plt()
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


def plot_nll_maps(images, nll_maps, titles: Sequence[str] | None = None, panel_size: float = 2.4):
    """Slices (gray, top row) above their per-position NLL maps in bits (magma, shared scale)."""
    plt = _plt()
    count = len(images)
    figure, axes = plt.subplots(
        2, count, figsize=(panel_size * count + 0.8, 2 * panel_size), squeeze=False
    )
    top = float(np.percentile(np.asarray(nll_maps), 99.5))
    for index in range(count):
        axes[0, index].imshow(_as_2d(images[index]), cmap="gray", vmin=0.0, vmax=1.0)
        shown = axes[1, index].imshow(nll_maps[index], cmap="magma", vmin=0.0, vmax=top)
        axes[0, index].set_title(titles[index] if titles else f"slice {index}", fontsize=9)
        axes[1, index].set_title(f"{np.mean(nll_maps[index]):.2f} bits/code", fontsize=9)
        for axis in axes[:, index]:
            axis.axis("off")
    figure.colorbar(shown, ax=axes[1].tolist(), label="bits", shrink=0.9)
    return figure
