"""Notebook 02's patch study: bare quantizer layers fitted to brain-slice patches.

No encoder and no decoder: every ``patch_size x patch_size`` patch of a slice is one
vector of ``D = patch_size**2`` pixels, a layer is fitted to them with
:func:`oasis_helpers.quantizer.fit_to_vectors`, and its codebook is measured over a
whole set of validation patches with :func:`oasis_helpers.metrics.codebook_health`
(the study's settings: :data:`oasis_helpers.quantizer.PATCH_STUDY`).

* :func:`codebook_size_sweep` fits one layer per codebook size: notebook 02's sweep and
  its widget (:func:`oasis_helpers.widgets.size_sweeper`) make the same call;
* :func:`summary` is what notebook 02 writes to ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers import metrics, quantizer

__all__ = ["codebook_size_sweep", "summary"]


def codebook_size_sweep(
    train_vectors: npt.ArrayLike,
    validation_vectors: npt.ArrayLike,
    sizes: Iterable[int],
    steps: int,
    *,
    layer_class: type[quantizer.VectorQuantizer] = quantizer.VectorQuantizerEMA,
    commitment_cost: float,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Fit a fresh layer of each codebook size to the same vectors and measure its codebook.

    Args:
        train_vectors: float ``[M, D]``, the vectors fitted to (e.g. brain patches).
        validation_vectors: float ``[V, D]``, the vectors the codebooks are measured on.
        sizes: the codebook sizes ``K``, in the order fitted.
        steps: training steps per size.
        layer_class: :class:`~oasis_helpers.quantizer.VectorQuantizerEMA` or
            :class:`~oasis_helpers.quantizer.VectorQuantizer`, built with its defaults
            (k-means++ initialisation, dead-code restarts) and ``seed``.
        commitment_cost: ``beta`` of each layer.
        batch_size, learning_rate, seed: as :func:`~oasis_helpers.quantizer.fit_to_vectors`.

    Returns:
        One dict per size: ``variant`` (the layer class's name), ``num_embeddings``, and the
        ``code_perplexity``, ``codebook_usage`` and ``reconstruction_mse`` of
        :func:`~oasis_helpers.metrics.codebook_health` on ``validation_vectors``.
    """
    embedding_dim = np.shape(train_vectors)[1]
    results = []
    for size in sizes:
        layer = layer_class(int(size), embedding_dim, commitment_cost, seed=seed)
        quantizer.fit_to_vectors(
            layer,
            train_vectors,
            steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
        )
        health = metrics.codebook_health(layer, validation_vectors)
        health.pop("counts")
        results.append({"variant": layer_class.__name__, "num_embeddings": int(size), **health})
    return results


def summary(
    variants: Mapping[str, quantizer.VectorQuantizer],
    histories: Mapping[str, dict],
    healths: Mapping[str, dict],
    size_sweep: list[dict[str, Any]],
    train_vectors: npt.ArrayLike,
    validation_vectors: npt.ArrayLike,
    *,
    steps: int,
    batch_size: int,
    patch_size: int,
    commitment_cost: float,
) -> dict[str, Any]:
    """What notebook 02 writes to ``metrics.json``: each fitted variant, the settings, the sweep.

    Args:
        variants: ``{name: layer}``, the fitted layers (``"standard"``, ``"ema"``, ...).
        histories: ``{name: history}`` of :func:`~oasis_helpers.quantizer.fit_to_vectors`.
        healths: ``{name: health}`` of :func:`~oasis_helpers.metrics.codebook_health` on the
            validation vectors.
        size_sweep: :func:`codebook_size_sweep`'s results.
        train_vectors, validation_vectors: the vectors fitted to and measured on.
        steps, batch_size, patch_size, commitment_cost: the study's settings.

    Returns:
        ``{name: {"num_embeddings", "embedding_dim", "init", "dead_code_steps",
        "code_perplexity", "codebook_usage", "reconstruction_mse", "dead_codes_restarted",
        "train_seconds"}}`` per variant, then ``steps``, ``batch_size``, ``patch_size``,
        ``commitment_cost``, ``train_patches`` and ``validation_patches`` (the numbers of
        vectors) and ``size_sweep``.
    """
    fitted = {
        name: {
            "num_embeddings": layer.num_embeddings,
            "embedding_dim": layer.embedding_dim,
            "init": layer.init,
            "dead_code_steps": layer.dead_code_steps,
            "code_perplexity": healths[name]["code_perplexity"],
            "codebook_usage": healths[name]["codebook_usage"],
            "reconstruction_mse": healths[name]["reconstruction_mse"],
            "dead_codes_restarted": layer.dead_codes_restarted,
            "train_seconds": histories[name]["seconds"],
        }
        for name, layer in variants.items()
    }
    return {
        **fitted,
        "steps": steps,
        "batch_size": batch_size,
        "patch_size": patch_size,
        "commitment_cost": commitment_cost,
        "train_patches": len(train_vectors),
        "validation_patches": len(validation_vectors),
        "size_sweep": size_sweep,
    }
