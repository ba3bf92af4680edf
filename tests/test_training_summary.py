"""What notebook 03 reports: :func:`oasis_helpers.training.vqvae_summary`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import oasis_fixtures as fx

from oasis_helpers import metrics as metrics_module
from oasis_helpers import training

#: The keys of notebook 03's metrics.json (tests/test_notebooks.py and the README read them).
NOTEBOOK_03_METRICS = {
    *("layout", "image_size", "ssim_test", "ssim_brain_test", "psnr_test", "psnr_brain_test"),
    *("ssim_test_reloaded", "test_slices", "code_perplexity_test", "codebook_usage_test"),
    *("codebook_usage_train", "epochs", "resumed_from_epoch", "stopped_by"),
    *("train_loss_by_epoch", "train_seconds", "train_seconds_this_run", "train_images"),
    *("train_images_per_second", "train_crops_per_second", "training_folder", "crop_size"),
    *("max_train_minutes", "epochs_requested", "steps_per_epoch", "batch_size"),
    *("learning_rate", "validation_slices", "num_embeddings", "embedding_dim"),
    *("commitment_cost", "quantizer", "ema_decay", "dead_code_steps", "downsample"),
    *("channels", "num_residual_blocks", "residual_channels", "parameters", "code_grid"),
    *("bits_per_slice", "pixel_bits_per_slice", "strategy", "replicas", "precision"),
    *("smoke", "seed"),
}


def _fit_result(**values) -> training.FitResult:
    fields = {
        "run_dir": Path("unused"),
        "history": {"loss": [0.3, 0.1]},
        "epochs_completed": 2,
        "initial_epoch": 1,
        "stopped_by": "epochs",
        "train_seconds": 5.0,
        "images_seen": 40,
        "images_per_second": 8.0,
        "total_train_seconds": 12.0,
        "total_images_seen": 80,
        "resumed": True,
    }
    return training.FitResult(**dict(fields, **values))


def test_vqvae_summary_has_notebook_03s_keys_computed_from_the_run():
    model_config = dict(fx.TRAINING_VQVAE, quantizer="standard", downsample=4, commitment_cost=0.5)
    model_config.update(ema_decay=0.9, dead_code_steps=None)
    model = fx.training_vqvae(**model_config)
    settings = dict(fx.RUN_SETTINGS, layout="demo", image_size=32, crop_size=16, batch_size=4)
    settings.update(steps_per_epoch=10, learning_rate=1e-3, validation_slices=8, epochs=5)
    settings.update(max_train_minutes=None, precision="float32", smoke=True)
    evaluation = {"ssim": 0.9, "ssim_brain": 0.8, "psnr": 30.0, "psnr_brain": 25.0}
    evaluation["per_slice"] = {"ssim": np.full(6, 0.9)}
    codes = {
        "train": metrics_module.code_statistics(np.array([[0, 1, 2, 3]]), 16),
        "test": metrics_module.code_statistics(np.array([[0, 0, 0, 1]]), 16),
    }
    summary = training.vqvae_summary(
        model, model_config, settings, _fit_result(), evaluation, codes, 0.89, "training/abc"
    )
    assert set(summary) == NOTEBOOK_03_METRICS
    # a 16x16 crop of a 32x32 slice is a quarter slice: 80 crops are 20 slices' worth
    assert summary["train_images"] == 80 * (4 * 16**2 / 32**2) / 4 == 20.0
    assert summary["train_images_per_second"] == 2.0 and summary["train_crops_per_second"] == 8.0
    assert summary["bits_per_slice"] == 8 * 8 * 4 and summary["pixel_bits_per_slice"] == 32**2 * 8
    assert summary["code_grid"] == [8, 8] and summary["channels"] == [8, 16]
    assert summary["ema_decay"] is None  # a standard quantizer has no decay
    assert summary["epochs_requested"] == 5 and summary["epochs"] == 2
    assert summary["resumed_from_epoch"] == 1 and summary["train_loss_by_epoch"] == [0.3, 0.1]
    assert (summary["train_seconds"], summary["train_seconds_this_run"]) == (12.0, 5.0)
    assert summary["test_slices"] == 6 and summary["ssim_test_reloaded"] == 0.89
    assert summary["code_perplexity_test"] == codes["test"]["code_perplexity"]
    assert (summary["codebook_usage_train"], summary["codebook_usage_test"]) == (0.25, 0.125)
    assert summary["training_folder"] == "training/abc" and summary["commitment_cost"] == 0.5
    assert summary["parameters"] == model.count_params()
    assert (summary["strategy"], summary["replicas"]) == ("_DefaultDistributionStrategy", 1)

    whole_slices = dict(settings, crop_size=None)
    ema = dict(model_config, quantizer="ema")
    summary = training.vqvae_summary(
        model, ema, whole_slices, _fit_result(), evaluation, codes, 0.89, "training/abc"
    )
    assert summary["train_images"] == 80.0 and summary["train_crops_per_second"] is None
    assert summary["ema_decay"] == 0.9


def test_slices_per_image_counts_a_crop_as_the_share_of_a_slice_it_covers():
    assert training.slices_per_image({"image_size": 256, "crop_size": 128}) == 0.25
    assert training.slices_per_image({"image_size": 256, "crop_size": None}) == 1.0
    assert training.slices_per_image({"image_size": 256}) == 1.0


def test_describe_result_says_epochs_stop_seconds_and_throughput():
    result = _fit_result()
    text = training.describe_result(result, {"image_size": 32, "crop_size": 16})
    assert "epochs completed: 2 (this call started at epoch 1); stopped by: epochs" in text
    # 8 crops/s of a quarter slice each: 2 whole slices/s, as vqvae_summary reports it
    assert "this call: 5 s, 8.0 crops/s = 2.0 slices/s; all calls: 12 s" in text
    assert "8.0 slices/s;" in training.describe_result(result, {"image_size": 32})
    assert "8.0 grids/s;" in training.describe_result(result, unit="grids")
