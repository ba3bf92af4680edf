"""How well the VQ-VAE rebuilds slices (notebook 03): histograms of per-slice SSIM and PSNR
(whole slice and brain), and the best and worst slices with their reconstructions and errors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from oasis_helpers.plots.figures import as_2d, pyplot


def plot_reconstruction_metrics(
    per_slice: Mapping[str, npt.NDArray[np.float64]], ssim_mark: float = 0.95, figsize=(11, 3.5)
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

    plt = pyplot()
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
    images: npt.ArrayLike,
    reconstructions: npt.ArrayLike,
    per_slice: Mapping[str, npt.NDArray[np.float64]],
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
    plt = pyplot()
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
        image, reconstruction = as_2d(images[index]), as_2d(reconstructions[index])
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
