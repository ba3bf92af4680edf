"""What a training reports: what one training call did, in words (:func:`describe_result`,
notebooks 03 and 04), and notebook 03's run's settings and measurements as one flat
dictionary (:func:`vqvae_summary`, written to ``metrics.json``). Both count a crop as the
share of a whole slice it covers (:func:`slices_per_image`).
"""

from __future__ import annotations

import os
from typing import Any

import keras

from oasis_helpers.training.fitting import FitResult

#: Settings that :func:`vqvae_summary` reports as they are (and ``epochs`` as ``epochs_requested``).
_REPORTED_SETTINGS = (
    *("crop_size", "max_train_minutes", "steps_per_epoch", "batch_size", "learning_rate"),
    *("validation_slices", "precision", "smoke", "seed"),
)
#: Model settings that :func:`vqvae_summary` reports as they are.
_REPORTED_MODEL_SETTINGS = (
    *("num_embeddings", "embedding_dim", "commitment_cost", "quantizer", "dead_code_steps"),
    *("downsample", "num_residual_blocks", "residual_channels"),
)


def slices_per_image(settings: dict) -> float:
    """Whole-slice equivalents of one training image: ``(crop_size / image_size)**2`` for
    crops of ``crop_size`` (a 128x128 crop of a 256x256 slice counts as a quarter), 1 for
    whole slices (``crop_size`` None or 0)."""
    image_size, crop_size = settings["image_size"], settings.get("crop_size")
    return (crop_size or image_size) ** 2 / image_size**2


def describe_result(result: FitResult, settings: dict | None = None, unit: str = "images") -> str:
    """What one training call did, in two lines: the epochs and why it stopped; the seconds
    and the throughput (this call, and the seconds over all calls).

    Args:
        result: what :func:`~oasis_helpers.training.fit` returned.
        settings: the run's settings, for a VQ-VAE trained on images: with ``image_size``
            (and ``crop_size``) the throughput is also given in whole slices per second
            (:func:`slices_per_image`, as :func:`vqvae_summary` reports it) and the unit is
            ``"crops"`` or ``"slices"``. None: the throughput in ``unit``.
        unit: what one training example is, without settings (notebook 04: ``"grids"``).
    """
    rate = f"{result.images_per_second:.1f} {unit}/s"
    if settings is not None and "image_size" in settings:
        unit = "crops" if settings.get("crop_size") else "slices"
        rate = f"{result.images_per_second:.1f} {unit}/s"
        if unit == "crops":
            whole = result.images_per_second * slices_per_image(settings)
            rate += f" = {whole:.1f} slices/s"
    return (
        f"epochs completed: {result.epochs_completed} (this call started at epoch "
        f"{result.initial_epoch}); stopped by: {result.stopped_by}\n"
        f"this call: {result.train_seconds:.0f} s, {rate}; "
        f"all calls: {result.total_train_seconds:.0f} s"
    )


def vqvae_summary(
    model: keras.Model,
    model_config: dict,
    settings: dict,
    result: FitResult,
    evaluation: dict,
    codes: dict[str, dict],
    ssim_reloaded: float,
    training_folder: str | os.PathLike,
) -> dict[str, Any]:
    """What notebook 03 writes to ``metrics.json``: the run's settings and its measurements.

    Args:
        model: the trained VQ-VAE (its parameter count; the distribution strategy it was
            built under, and its replicas).
        model_config: the keyword arguments it was built with (``models.make_vqvae``):
            ``image_size``, ``downsample``, ``channels``, ``num_residual_blocks``,
            ``residual_channels``, ``num_embeddings``, ``embedding_dim``,
            ``commitment_cost``, ``quantizer``, ``ema_decay``, ``dead_code_steps``.
        settings: the run's data and training settings (:func:`fit_with_settings`):
            ``layout``, ``image_size``, ``crop_size``, ``batch_size``, ``steps_per_epoch``,
            ``learning_rate``, ``validation_slices``, ``epochs``, ``max_train_minutes``,
            ``precision``, ``smoke``, ``seed``.
        result: what the training call returned.
        evaluation: :func:`oasis_helpers.metrics.evaluate_reconstructions` of the test slices.
        codes: ``{"train": ..., "test": ...}``, each
            :func:`oasis_helpers.metrics.code_statistics` of that split's code grids.
        ssim_reloaded: the test SSIM of the model saved and loaded again.
        training_folder: the training folder, relative to ``run_dir``.

    Returns:
        A flat dict of plain values. Throughputs and image counts are in whole-slice
        equivalents: a ``crop_size`` crop counts as ``(crop_size / image_size)**2`` slices
        (``train_crops_per_second`` counts crops, ``None`` without crops). ``ema_decay`` is
        ``None`` unless the quantizer is ``"ema"``.
    """
    from oasis_helpers.models import bits_per_slice

    image_size, crop_size = settings["image_size"], settings["crop_size"]
    whole = slices_per_image(settings)  # whole-slice equivalents of one crop
    downsample, num_embeddings = model_config["downsample"], model_config["num_embeddings"]
    code_size = image_size // downsample
    strategy = model.distribute_strategy
    measured = {
        "ssim_test": evaluation["ssim"],
        "ssim_brain_test": evaluation["ssim_brain"],
        "psnr_test": evaluation["psnr"],
        "psnr_brain_test": evaluation["psnr_brain"],
        "ssim_test_reloaded": ssim_reloaded,
        "test_slices": len(evaluation["per_slice"]["ssim"]),
        "code_perplexity_test": codes["test"]["code_perplexity"],
        "codebook_usage_test": codes["test"]["codebook_usage"],
        "codebook_usage_train": codes["train"]["codebook_usage"],
    }
    trained = {
        "epochs": result.epochs_completed,
        "resumed_from_epoch": result.initial_epoch,
        "stopped_by": result.stopped_by,
        "train_loss_by_epoch": result.history.get("loss", []),
        "train_seconds": result.total_train_seconds,
        "train_seconds_this_run": result.train_seconds,
        "train_images": result.total_images_seen * whole,
        "train_images_per_second": result.images_per_second * whole,
        "train_crops_per_second": result.images_per_second if crop_size else None,
        "training_folder": str(training_folder),
    }
    return {
        "layout": settings["layout"],
        "image_size": image_size,
        **measured,
        **trained,
        **{key: settings[key] for key in _REPORTED_SETTINGS},
        "epochs_requested": settings["epochs"],
        **{key: model_config[key] for key in _REPORTED_MODEL_SETTINGS},
        "ema_decay": model_config["ema_decay"] if model_config["quantizer"] == "ema" else None,
        "channels": list(model_config["channels"]),
        "parameters": model.count_params(),
        "code_grid": [code_size, code_size],
        "bits_per_slice": bits_per_slice(image_size, downsample, num_embeddings),
        "pixel_bits_per_slice": image_size * image_size * 8,
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
    }
