"""Brain slices as figures (notebook 01, and the slice grids of notebooks 04 and 05): grids,
tissue masks tinted over the slices, one row per split, intensity histograms, augmentation.

Slices are drawn in gray with a fixed ``[0, 1]`` range, so that intensities can be compared
between panels. Titles of demo data say that it is a stand-in, not OASIS
(:func:`~oasis_helpers.plots.figures.source_title`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from oasis_helpers.plots.figures import as_2d, pyplot, source_title

#: Colours of the tissue labels 1 CSF, 2 grey matter, 3 white matter (RGB in [0, 1]).
TISSUE_COLOURS = {1: (0.20, 0.55, 1.00), 2: (1.00, 0.55, 0.10), 3: (0.25, 0.85, 0.35)}
TISSUE_NAMES = {1: "CSF", 2: "grey matter", 3: "white matter"}


def overlay_mask(
    image: npt.ArrayLike, mask: npt.ArrayLike, alpha: float = 0.4
) -> npt.NDArray[np.float32]:
    """An RGB ``[H, W, 3]`` picture: the gray slice with tissue labels tinted over it.

    ``mask`` holds labels 0 (background, not tinted), 1 CSF, 2 grey, 3 white matter.
    """
    gray = np.clip(as_2d(image), 0.0, 1.0)
    picture = np.repeat(gray[..., None], 3, axis=-1)
    labels = np.asarray(mask)
    for label, colour in TISSUE_COLOURS.items():
        where = labels == label
        picture[where] = (1 - alpha) * picture[where] + alpha * np.asarray(colour)
    return picture


def show_slices(
    images: npt.ArrayLike,
    titles: Sequence[str] | None = None,
    columns: int = 8,
    masks: npt.ArrayLike | None = None,
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
    plt = pyplot()
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
            axis.imshow(as_2d(images[index]), cmap=cmap, vmin=vmin, vmax=vmax)
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
    plt = pyplot()
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
                axis.imshow(as_2d(split.images[index]), cmap="gray", vmin=0, vmax=1)
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
    plt = pyplot()
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
    plt = pyplot()
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


def augmentation_examples(images: npt.ArrayLike, augmented: npt.ArrayLike, count: int = 6):
    """Original slices (top) next to augmented versions of them (bottom)."""
    plt = pyplot()
    count = min(count, len(images), len(augmented))
    figure, axes = plt.subplots(2, count, figsize=(1.8 * count, 4.0), squeeze=False)
    for column in range(count):
        axes[0, column].imshow(as_2d(images[column]), cmap="gray", vmin=0, vmax=1)
        axes[1, column].imshow(as_2d(augmented[column]), cmap="gray", vmin=0, vmax=1)
        for row in range(2):
            axes[row, column].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("augmented", fontsize=8, loc="left")
    figure.tight_layout()
    return figure
