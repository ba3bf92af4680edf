"""What notebook 04 reports: its prior's likelihood, samples and training as one flat
dictionary (:func:`prior_summary`, written to ``metrics.json``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from oasis_helpers.prior.model import DEFAULT_PRIOR
from oasis_helpers.prior.quality import SampleQuality, TimedSamples

__all__ = ["BITS_NAMES", "prior_summary"]

#: The names of notebook 04's bits-per-code figure, as :func:`prior_summary` reads them:
#: metrics.json key -> name in ``bits``.
BITS_NAMES = {
    "nll_bits_per_code_test": "PixelCNN prior",
    "uniform_bits_per_code": "uniform",
    "unigram_bits_per_code": "unigram",
    "context_bits_per_code": "neighbour table",
}

#: Training settings that :func:`prior_summary` reports as they are.
_REPORTED_SETTINGS = (
    *("batch_size", "steps_per_epoch", "learning_rate", "max_train_minutes", "smoke"),
)


def prior_summary(
    model,
    settings: Mapping[str, Any],
    result,
    training_folder: str | os.PathLike,
    bits: Mapping[str, float],
    nll_train: float,
    unigram,
    neighbour,
    samples: TimedSamples,
    quality: SampleQuality,
) -> dict[str, Any]:
    """What notebook 04 writes to ``metrics.json``: its measurements and its settings.

    Args:
        model: the trained prior: its settings (``prior_config``, the keys of
            :data:`~oasis_helpers.prior.DEFAULT_PRIOR`) and its parameter count.
        settings: the training settings it ran with (``training.fit_with_settings``):
            ``batch_size``, ``steps_per_epoch``, ``learning_rate``, ``max_train_minutes``
            and ``smoke``.
        result: what the training call returned (``training.FitResult``).
        training_folder: the training folder, relative to ``run_dir``.
        bits: mean bits per code on the test grids by name: ``"uniform"``, ``"unigram"``,
            ``"neighbour table"`` and ``"PixelCNN prior"`` (:data:`BITS_NAMES`).
        nll_train: the prior's bits per code on (a subset of) the training grids.
        unigram, neighbour: the fitted ``prior.UnigramBaseline`` (its entropy) and
            ``prior.NeighbourBaseline`` (its smoothing).
        samples: the timed batch of samples (:func:`~oasis_helpers.prior.timed_samples`):
            how many, their temperature and ``top_k``, and the seconds.
        quality: :func:`~oasis_helpers.prior.sample_quality` of the prior's samples and
            the baselines' (``"prior"``, ``"context"``, ``"unigram"``, ``"uniform"``).

    Returns:
        A flat dict of plain values (``prior_config`` nested), the keys of notebook 04's
        ``metrics.json``.
    """
    missing = sorted(set(BITS_NAMES.values()) - set(bits))
    if missing:
        raise ValueError(f"bits lacks {missing}: give the bits per code of every model")
    config = model.get_config()
    return {
        "nll_bits_per_code_train": nll_train,
        **{key: bits[name] for key, name in BITS_NAMES.items()},
        "unigram_entropy_train_bits": unigram.entropy_bits(),
        "context_smoothing": neighbour.smoothing,
        "num_samples": len(samples.codes),
        "sample_seconds": samples.seconds,
        "trace_seconds": samples.trace_seconds,
        "temperature": samples.temperature,
        "top_k": samples.top_k,
        "quality_samples": quality.count,
        **{f"frechet_{name}": value for name, value in quality.frechet.items()},
        "diversity_ssim_samples": quality.diversity_samples,
        "diversity_ssim_test": quality.diversity_test,
        "nearest_train_ssim_samples": quality.nearest_samples,
        "nearest_train_ssim_test": quality.nearest_test,
        "prior_config": {key: config[key] for key in DEFAULT_PRIOR},
        "parameters": model.count_params(),
        "epochs": result.epochs_completed,
        "stopped_by": result.stopped_by,
        "train_seconds": result.total_train_seconds,
        "train_grids_per_second": result.images_per_second,
        "training_folder": str(training_folder),
        **{key: settings[key] for key in _REPORTED_SETTINGS},
    }
