"""Reconstruction benchmark: the series' default VQ-VAE against the keras.io example's
architecture, trained on the same data for the same wall-clock budget.

The keras.io VQ-VAE example ("Vector-Quantized Variational Autoencoders", Sayak
Paul) uses: encoder Conv2D(32, 3, stride 2, ReLU) -> Conv2D(64, 3, stride 2, ReLU)
-> Conv2D(16, 1) (a 16-dimensional latent), a 128-code standard quantizer
(commitment cost 0.25), and a mirrored decoder of Conv2DTranspose(64, 3, stride 2,
ReLU) -> Conv2DTranspose(32, 3, stride 2, ReLU) -> Conv2DTranspose(1, 3). Both
models here train with the same trainer (:class:`oasis_helpers.models.VQVAE`,
mean squared error + quantizer losses, Adam, cosine schedule), the same batches
and the same budget, so only the architecture (and the quantizer's defaults)
differ. The keras.io reference gets a linear output, as in the example; its
outputs are clipped to [0, 1] before scoring.

Reports, per model, as JSON: test SSIM (whole image and inside the brain), PSNR,
training images per second and inference images per second.

    .venv/bin/python benchmarks/reconstruction.py --budget-minutes 5 \
        --out benchmarks/results/reconstruction_demo.json
    .venv/bin/python benchmarks/reconstruction.py --data-dir /data/keras_png_slices_data
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from oasis_helpers import data, metrics, models, runs, training  # noqa: E402


def build_keras_io_encoder(latent_dim: int = 16) -> keras.Model:
    """The keras.io example's encoder: ``[B, H, W, 1] -> [B, H/4, W/4, latent_dim]``."""
    inputs = keras.Input((None, None, 1), name="images")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(latent_dim, 1, padding="same")(x)
    return keras.Model(inputs, outputs, name="keras_io_encoder")


def build_keras_io_decoder(latent_dim: int = 16) -> keras.Model:
    """The keras.io example's decoder: ``[B, H/4, W/4, latent_dim] -> [B, H, W, 1]`` (linear)."""
    inputs = keras.Input((None, None, latent_dim), name="quantized")
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(1, 3, padding="same", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="keras_io_decoder")


class KerasIOVQVAE(models.VQVAE):
    """The series' trainer around the keras.io example's encoder and decoder."""

    def _build_networks(self):
        return (
            build_keras_io_encoder(self.embedding_dim),
            build_keras_io_decoder(self.embedding_dim),
        )


#: notebook 03's defaults (its parameters cell): the model a user of the series trains.
SERIES_DEFAULT_CONFIG = {
    "downsample": 4,
    "channels": (16, 32),
    "num_residual_blocks": 2,
    "residual_channels": 16,
    "num_embeddings": 256,
    "embedding_dim": 16,
    "commitment_cost": 0.25,
    "quantizer": "ema",
    "quantizer_options": {"decay": 0.95, "dead_code_steps": 20},
}

KERAS_IO_CONFIG = {
    "downsample": 4,
    "num_embeddings": 128,
    "embedding_dim": 16,
    "commitment_cost": 0.25,
    "quantizer": "standard",
    # the example's plain quantizer: no data initialisation, no dead-code restart
    "quantizer_options": {"init": None, "dead_code_steps": None},
}


def _train_and_score(name, model, source, args, work_dir: Path) -> dict:
    batch_size = args.batch_size
    # the same batches for both models: notebook 03's pipeline of brain-centred crops
    whole = data.make_dataset(source.splits["train"], 8, shuffle=True, seed=args.seed, repeat=True)
    train = training.brain_crops(whole, args.crop_size, batch_size, seed=args.seed)
    steps = args.steps_per_epoch
    result = training.fit(
        model,
        train,
        work_dir / name,
        epochs=10_000,
        steps_per_epoch=steps,
        batch_size=batch_size,
        early_stopping_patience=None,
        max_train_minutes=args.budget_minutes,
        verbose=2 if args.verbose else 0,
        tensorboard=False,
    )
    test_images = source.splits["test"].images
    model.reconstruct(test_images[:batch_size])  # trace before timing inference
    started = time.perf_counter()
    reconstructions = np.clip(model.reconstruct(test_images), 0.0, 1.0)
    inference_seconds = time.perf_counter() - started
    scores = metrics.evaluate_reconstructions(test_images, reconstructions)
    return {
        "parameters": int(model.count_params()),
        "num_embeddings": model.num_embeddings,
        "embedding_dim": model.embedding_dim,
        "epochs": result.epochs_completed,
        "train_seconds": round(result.train_seconds, 1),
        "train_images": result.images_seen,
        # training batches are crops: also given in whole-slice equivalents
        "train_crops_per_second": round(result.images_per_second, 1),
        "train_images_per_second": round(
            result.images_per_second * (args.crop_size / args.image_size) ** 2, 1
        ),
        "inference_images_per_second": round(len(test_images) / inference_seconds, 1),
        "ssim_test": scores["ssim"],
        "ssim_brain_test": scores["ssim_brain"],
        "psnr_test": scores["psnr"],
        "psnr_brain_test": scores["psnr_brain"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="OASIS folder (default: demo cohort)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--budget-minutes", type=float, default=5.0, help="per model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--steps-per-epoch", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--smoke", action="store_true", help="tiny data, seconds of training")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/reconstruction.json")
    args = parser.parse_args(argv)

    source = data.load_slices(
        args.data_dir, image_size=args.image_size, seed=args.seed, smoke=args.smoke
    )
    report = {
        "benchmark": "reconstruction",
        "data": source.label,
        "layout": source.layout,
        "image_size": args.image_size,
        "train_slices": len(source.splits["train"]),
        "test_slices": len(source.splits["test"]),
        "budget_minutes_per_model": args.budget_minutes,
        "batch_size": args.batch_size,
        "crop_size": args.crop_size,
        "learning_rate": args.learning_rate,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "environment": runs.describe_environment(),
        "models": {},
    }
    candidates = {
        "series_default": lambda: models.VQVAE(image_size=args.image_size, **SERIES_DEFAULT_CONFIG),
        "keras_io_example": lambda: KerasIOVQVAE(image_size=args.image_size, **KERAS_IO_CONFIG),
    }
    with tempfile.TemporaryDirectory() as work_dir:
        for name, build in candidates.items():
            runs.seed_everything(args.seed)
            model = build()
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
            report["models"][name] = _train_and_score(name, model, source, args, Path(work_dir))
            print(name, json.dumps(report["models"][name]), flush=True)

    default, reference = report["models"]["series_default"], report["models"]["keras_io_example"]
    report["default_beats_keras_io_on_ssim"] = bool(default["ssim_test"] > reference["ssim_test"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
