"""Helpers of notebook 02 (the vector quantizer): brain-slice patches as vectors to
quantize, fitting a bare quantizer to them, codebook-health summaries, and figures.

The layers themselves live in :mod:`oasis_helpers.quantizer`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from oasis_helpers.quantizer import (
    VectorQuantizer,
    code_counts,
    codebook_usage_from_counts,
    perplexity_from_counts,
)

# ----------------------------------------------------------------------------------------------
# Data and fitting
# ----------------------------------------------------------------------------------------------


def image_patches(
    images: np.ndarray, patch_size: int = 4, max_patches: int | None = None, seed: int = 0
) -> np.ndarray:
    """Cut images into non-overlapping square patches, one flattened vector each.

    Args:
        images: ``[N, H, W]`` or ``[N, H, W, 1]``; ``H`` and ``W`` divisible by ``patch_size``.
        patch_size: side ``p`` of each patch.
        max_patches: keep at most this many patches (a random sample without replacement).
        seed: seed of that sample.

    Returns:
        float32 ``[M, p * p]``, patch pixels in row-major order.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"expected one channel, got images of shape {images.shape}")
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images [N, H, W] or [N, H, W, 1], got shape {images.shape}")
    count, height, width = images.shape
    if height % patch_size or width % patch_size:
        raise ValueError(f"image size {height}x{width} is not divisible by patch_size={patch_size}")
    rows, cols = height // patch_size, width // patch_size
    patches = images.reshape(count, rows, patch_size, cols, patch_size).transpose(0, 1, 3, 2, 4)
    patches = patches.reshape(-1, patch_size * patch_size)
    if max_patches is not None and len(patches) > max_patches:
        chosen = np.random.default_rng(seed).choice(len(patches), max_patches, replace=False)
        patches = patches[np.sort(chosen)]
    return np.ascontiguousarray(patches)


def codebook_health(layer: VectorQuantizer, vectors, batch_size: int = 65536) -> dict:
    """Nearest-code statistics of ``layer`` over a whole set of vectors ``[M, D]``.

    Returns a dict with ``perplexity`` (``exp`` of the entropy of the code
    histogram), ``codebook_usage`` (fraction of codes used at least once),
    ``reconstruction_mse`` (mean over all elements of ``(x - e_{k*(x)})^2``) and
    ``counts`` (``[K]`` int64 histogram).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    counts = np.zeros(layer.num_embeddings, dtype=np.float64)
    squared_error = 0.0
    for start in range(0, len(vectors), batch_size):
        chunk = vectors[start : start + batch_size]
        indices = layer.code_indices(chunk)
        counts += code_counts(indices, layer.num_embeddings).numpy()
        squared_error += float(np.sum((layer.lookup(indices).numpy() - chunk) ** 2))
    return {
        "perplexity": float(perplexity_from_counts(counts)),
        "codebook_usage": float(codebook_usage_from_counts(counts)),
        "reconstruction_mse": squared_error / max(vectors.size, 1),
        "counts": counts.astype(np.int64),
    }


def fit_to_vectors(
    layer: VectorQuantizer,
    vectors,
    steps: int,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Fit a bare quantizer to fixed vectors ``[M, D]`` (no encoder, no decoder).

    Each step draws ``batch_size`` random vectors, calls the layer with
    ``training=True`` (data initialisation, restarts and EMA updates happen
    there) and, when the layer has trainable weights (the plain layer's
    codebook), takes an Adam step on the sum of the layer's losses. With fixed
    inputs the commitment loss has nothing to train, so this is online k-means.

    Returns:
        ``history``: lists per step of ``loss``, ``perplexity`` and
        ``codebook_usage`` (of the batch) and ``dead_codes_restarted`` (total so
        far), plus ``seconds`` (wall-clock time of the loop).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != layer.embedding_dim:
        raise ValueError(f"vectors must have shape [M, {layer.embedding_dim}], got {vectors.shape}")
    if not layer.built:
        layer.build((None, layer.embedding_dim))
    optimizer = keras.optimizers.Adam(learning_rate)
    trainable = list(layer.trainable_weights)
    if trainable:
        optimizer.build(trainable)

    @tf.function
    def train_step(batch):
        for metric in layer.metrics:
            metric.reset_state()
        with tf.GradientTape() as tape:
            layer(batch, training=True)
            loss = tf.add_n(layer.losses)
        if trainable:
            gradients = tape.gradient(loss, trainable)
            optimizer.apply_gradients(zip(gradients, trainable, strict=True))
        return (
            loss,
            layer.perplexity_tracker.result(),
            layer.usage_tracker.result(),
            layer.dead_codes_restarted_total.value,
        )

    random = np.random.default_rng(seed)
    history = {"loss": [], "perplexity": [], "codebook_usage": [], "dead_codes_restarted": []}
    start = time.perf_counter()
    for _ in range(steps):
        batch = vectors[random.integers(0, len(vectors), batch_size)]
        values = train_step(tf.constant(batch))
        for key, value in zip(history, values, strict=True):
            history[key].append(float(value))
    history["seconds"] = time.perf_counter() - start
    return history


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


def plot_voronoi(ax, layer: VectorQuantizer, points=None, extent=(-3, 3, -3, 3), resolution=300):
    """Colour a 2D plane by nearest code (the Voronoi cells) and draw points and codes.

    Works for ``embedding_dim == 2`` only: every grid position is quantized with
    ``layer.code_indices``, so the picture is the layer's own decision.
    """
    if layer.embedding_dim != 2:
        raise ValueError(
            f"plot_voronoi needs a 2D codebook, got embedding_dim={layer.embedding_dim}"
        )
    x_grid, y_grid = np.meshgrid(
        np.linspace(extent[0], extent[1], resolution), np.linspace(extent[2], extent[3], resolution)
    )
    grid = np.stack([x_grid.ravel(), y_grid.ravel()], axis=1).astype(np.float32)
    cells = layer.code_indices(grid).numpy().reshape(x_grid.shape)
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
        ax.scatter(points[:, 0], points[:, 1], s=6, c="0.25", alpha=0.6, label="encoder outputs")
    codebook = layer.codebook.numpy()
    ax.scatter(codebook[:, 0], codebook[:, 1], s=90, c="crimson", marker="*", label="codes")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    return ax


def plot_training_curves(histories: dict[str, dict], num_embeddings: int, figsize=(12, 3.6)):
    """Batch perplexity, codebook usage and restarts per step, one line per variant."""
    figure, axes = plt.subplots(1, 3, figsize=figsize)
    for name, history in histories.items():
        axes[0].plot(history["perplexity"], label=name)
        axes[1].plot(history["codebook_usage"], label=name)
        axes[2].plot(history["dead_codes_restarted"], label=name)
    axes[0].set(title="batch perplexity", xlabel="step")
    axes[1].set(title=f"batch codebook usage (K={num_embeddings})", xlabel="step", ylim=(0, 1.02))
    axes[2].set(title="dead codes restarted (total)", xlabel="step")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_code_frequencies(healths: dict[str, dict], figsize=(6, 3.6)):
    """Rank-frequency plot: code frequencies sorted from the most used, one line per variant."""
    figure, ax = plt.subplots(figsize=figsize)
    for name, health in healths.items():
        counts = np.sort(np.asarray(health["counts"], dtype=np.float64))[::-1]
        frequencies = counts / max(counts.sum(), 1.0)
        label = f"{name} (perplexity {health['perplexity']:.1f})"
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
    ``perplexity`` and ``reconstruction_mse`` (as :func:`codebook_health` gives).
    """
    figure, axes = plt.subplots(1, 3, figsize=figsize)
    variants = sorted({row["variant"] for row in results})
    for variant in variants:
        rows = sorted(
            (row for row in results if row["variant"] == variant),
            key=lambda row: row["num_embeddings"],
        )
        sizes = [row["num_embeddings"] for row in rows]
        axes[0].plot(sizes, [row["codebook_usage"] for row in rows], "o-", label=variant)
        axes[1].plot(sizes, [row["perplexity"] for row in rows], "o-", label=variant)
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
    layer: VectorQuantizer,
    patch_size: int,
    counts=None,
    columns: int = 32,
    max_codes: int = 256,
    figsize=(10, 3),
):
    """Draw codes as ``patch_size x patch_size`` tiles, most used first when ``counts`` given."""
    codebook = layer.codebook.numpy()
    order = np.argsort(-np.asarray(counts)) if counts is not None else np.arange(len(codebook))
    order = order[:max_codes]
    rows = int(np.ceil(len(order) / columns))
    canvas = np.full((rows * (patch_size + 1), columns * (patch_size + 1)), np.nan)
    for position, code in enumerate(order):
        row, col = divmod(position, columns)
        tile = codebook[code].reshape(patch_size, patch_size)
        canvas[
            row * (patch_size + 1) : row * (patch_size + 1) + patch_size,
            col * (patch_size + 1) : col * (patch_size + 1) + patch_size,
        ] = tile
    figure, ax = plt.subplots(figsize=figsize)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    figure.tight_layout()
    return figure
