"""The vector quantizer and its codebook (notebook 02, and the code frequencies of notebook
03): Voronoi cells of a 2D codebook, what the commitment cost does, brain patches as the
vectors to quantize, codebook health while fitting, how often each code is used, the
codebook-size sweep, and codes drawn as image patches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from oasis_helpers.plots.figures import as_2d, pyplot


def plot_voronoi(
    ax, layer, points: npt.ArrayLike | None = None, extent=(-3, 3, -3, 3), resolution: int = 300
):
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


def plot_commitment(
    runs: Mapping[float, tuple[Sequence[float], Sequence[float]]],
    window: int = 10,
    figsize=(10, 3.4),
):
    """What the commitment cost does: code gaps and code switches per step, one line per beta.

    Args:
        runs: ``{beta: (gaps, switches)}``, per training step the mean squared distance
            ``||z_e - z_q||^2`` of the encoder outputs to their codes and the fraction of
            vectors whose code changed in that step (notebook 02's commitment experiment).
        window: steps of the moving mean drawn for the switches (they are noisy).

    Returns:
        A figure with two axes: the gaps (left) and the switches' ``window``-step moving
        mean (right).
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=figsize)
    for beta, (gaps, switches) in runs.items():
        axes[0].plot(gaps, label=f"beta = {beta}")
        moving_mean = np.convolve(switches, np.ones(window) / window, mode="valid")
        axes[1].plot(moving_mean, label=f"beta = {beta}")
    axes[0].set(title="mean ||z_e - z_q||^2", xlabel="step")
    axes[1].set(title=f"fraction of vectors changing code ({window}-step mean)", xlabel="step")
    axes[0].legend()
    figure.tight_layout()
    return figure


def show_patches(
    image: npt.ArrayLike,
    patches: npt.ArrayLike,
    patch_size: int,
    grid: int = 8,
    seed: int = 0,
    figsize=(9, 4),
):
    """A slice (left) and ``grid x grid`` patches drawn at random from ``patches`` (right).

    Args:
        image: the slice, float ``[H, W]`` or ``[H, W, 1]`` in ``[0, 1]``.
        patches: float ``[M, patch_size**2]``, flattened ``patch_size x patch_size``
            patches (as :func:`oasis_helpers.data.sample_patches` gives), ``M >= grid**2``.
        patch_size: side of a patch.
        grid: patches per row and per column of the mosaic.
        seed: seeds which patches are shown.

    Returns:
        A figure with two axes: the slice and the mosaic (``grid * patch_size`` pixels
        square), both gray in ``[0, 1]``.
    """
    patches = np.asarray(patches)
    count = grid * grid
    if patches.ndim != 2 or patches.shape[1] != patch_size * patch_size or len(patches) < count:
        raise ValueError(
            f"show_patches needs at least {count} patches of {patch_size * patch_size} values, "
            f"got shape {patches.shape}"
        )
    plt = pyplot()
    sample = patches[np.random.default_rng(seed).choice(len(patches), count, replace=False)]
    tiles = sample.reshape(grid, grid, patch_size, patch_size).transpose(0, 2, 1, 3)
    figure, axes = plt.subplots(1, 2, figsize=figsize)
    axes[0].imshow(as_2d(image), cmap="gray", vmin=0, vmax=1)
    axes[0].set(title="a training slice")
    side = grid * patch_size
    axes[1].imshow(tiles.reshape(side, side), cmap="gray", vmin=0, vmax=1)
    axes[1].set(title=f"{count} random {patch_size}x{patch_size} patches")
    for axis in axes:
        axis.set_axis_off()
    return figure


def plot_quantizer_training(histories: dict[str, dict], num_embeddings: int, figsize=(12, 3.6)):
    """Batch perplexity, batch codebook usage and restarts per step, one line per variant.

    ``histories``: ``{name: history}`` as :func:`oasis_helpers.quantizer.fit_to_vectors`
    returns (``batch_perplexity``, ``batch_codebook_usage``, ``dead_codes_restarted``).
    """
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
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
    layer,
    patch_size: int,
    counts: npt.ArrayLike | None = None,
    columns: int = 32,
    max_codes: int = 256,
    figsize=(10, 3),
):
    """Draw codes as ``patch_size x patch_size`` tiles, most used first when ``counts`` given.

    ``layer``: a quantizer whose codes are flattened patches (``D = patch_size**2``).
    """
    if layer.embedding_dim != patch_size * patch_size:
        raise ValueError(
            f"show_codebook needs embedding_dim = patch_size**2, got {layer.embedding_dim} "
            f"and patch_size {patch_size}"
        )
    plt = pyplot()
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
