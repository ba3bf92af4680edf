"""Reconstruction benchmark: what the series' architecture and what its quantizer contribute.

Three configurations, each trained with several seeds for the same number of
optimizer steps on the same batches (notebook 03's pipeline of brain-centred crops
and its trainer, :func:`oasis_helpers.training.fit`: mean squared error + the
quantizer's losses, Adam, cosine schedule):

``series_default``
    :data:`oasis_helpers.models.DEFAULT_CONFIG`: the model a user of the series trains
    (strided 4x4 convolutions, residual blocks, EMA quantizer with k-means++
    initialisation and dead-code restarts, K 256, D 16).
``keras_io_example``
    The keras.io VQ-VAE example ("Vector-Quantized Variational Autoencoders", Sayak
    Paul) with ITS quantizer: encoder Conv2D(32, 3, stride 2, ReLU) -> Conv2D(64, 3,
    stride 2, ReLU) -> Conv2D(16, 1); a plain gradient-trained quantizer with 128
    codes, commitment cost 0.25, codes initialised uniformly in [-0.05, 0.05], no data
    initialisation, no restarts; decoder Conv2DTranspose(64, 3, stride 2, ReLU) ->
    Conv2DTranspose(32, 3, stride 2, ReLU) -> Conv2DTranspose(1, 3), linear output
    (clipped to [0, 1] before scoring).
``keras_io_series_quantizer``
    The keras.io architecture with the series' quantizer (the quantizer settings of
    ``DEFAULT_CONFIG``).

``keras_io_example`` -> ``keras_io_series_quantizer`` shows what the quantizer
contributes; ``keras_io_series_quantizer`` -> ``series_default`` what the
architecture contributes. Quality (test SSIM and PSNR, whole image and inside the
brain) is reported per seed and as mean, standard deviation, minimum and maximum
over seeds; a difference is called "clear" only when it exceeds the sum of the two
standard deviations. Training at an equal number of steps keeps the quality
comparison independent of the machine's load; throughput is reported separately:
training crops per second after the first epoch (which traces the graph) and
inference slices per second after a warm-up pass (no retrace in the timing).

Training settings come from :data:`oasis_helpers.training.DEFAULT_TRAINING`
(batch size, crop size, learning rate, steps per epoch); ``--steps`` sets the total.

    .venv/bin/python benchmarks/reconstruction.py --steps 300 --seeds 1 2 3 \\
        --out benchmarks/results/reconstruction_demo.json
    .venv/bin/python benchmarks/reconstruction.py --data-dir /data/keras_png_slices_data
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from oasis_helpers import data, metrics, models, runs, training  # noqa: E402

#: Scores aggregated over seeds.
SCORES = ("ssim_test", "ssim_brain_test", "psnr_test", "psnr_brain_test")
#: The quantizer settings of a configuration (the rest describes the networks).
QUANTIZER_SETTINGS = (
    "num_embeddings",
    "embedding_dim",
    "commitment_cost",
    "quantizer",
    "ema_decay",
    "dead_code_steps",
)


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


def series_config() -> dict:
    """The series' default model: :data:`oasis_helpers.models.DEFAULT_CONFIG`, unchanged."""
    return dict(models.DEFAULT_CONFIG)


def keras_io_config(series_quantizer: bool) -> dict:
    """Settings of the keras.io architecture, with its own quantizer or the series' one.

    The keras.io networks use only ``downsample`` 4 and ``embedding_dim`` (its latent
    size, 16 in the example and in the default) of the configuration.
    """
    config = {"image_size": models.DEFAULT_CONFIG["image_size"], "downsample": 4}
    if series_quantizer:
        config.update({name: models.DEFAULT_CONFIG[name] for name in QUANTIZER_SETTINGS})
        return config
    config.update(
        {
            "num_embeddings": 128,
            "embedding_dim": 16,
            "commitment_cost": 0.25,
            "quantizer": "standard",
            # the example's plain quantizer: no data initialisation, no dead-code restart
            "dead_code_steps": None,
            "quantizer_options": {"init": None},
        }
    )
    return config


#: name -> (model class, configuration)
CANDIDATES = {
    "series_default": (models.VQVAE, series_config),
    "keras_io_example": (KerasIOVQVAE, lambda: keras_io_config(series_quantizer=False)),
    "keras_io_series_quantizer": (KerasIOVQVAE, lambda: keras_io_config(series_quantizer=True)),
}


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training epoch."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def _build(name: str, image_size: int, seed: int, learning_rate: float) -> models.VQVAE:
    cls, make_config = CANDIDATES[name]
    config = make_config()
    config["image_size"] = image_size
    options = dict(config.pop("quantizer_options", {}))
    options["seed"] = seed
    model = cls(**config, quantizer_options=options)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def _inference_rate(model: models.VQVAE, images: np.ndarray, batch_size: int) -> float:
    """Slices per second of ``model.reconstruct`` on full batches, after a warm-up call."""
    timed = images[: max(batch_size, 1)]
    model.reconstruct(timed, batch_size=batch_size)  # warm-up: traces this batch shape
    started = time.perf_counter()
    repeats = 2
    for _ in range(repeats):
        model.reconstruct(timed, batch_size=batch_size)
    return repeats * len(timed) / (time.perf_counter() - started)


def _epochs_for(steps: int, steps_per_epoch: int) -> int:
    """The fewest epochs of at most ``steps_per_epoch`` equal steps that make ``steps``."""
    epochs = math.ceil(steps / max(steps_per_epoch, 1))
    while steps % epochs:
        epochs += 1
    return epochs


def train_and_score(name: str, seed: int, source, args, work_dir: Path) -> dict:
    """Train one configuration with one seed for ``args.steps`` steps; its scores and speeds."""
    runs.seed_everything(seed)
    model = _build(name, args.image_size, seed, args.learning_rate)
    # the same batches for every configuration of a seed: notebook 03's pipeline
    whole = data.make_dataset(source.splits["train"], 8, shuffle=True, seed=seed, repeat=True)
    train = data.brain_crops(whole, args.crop_size, args.batch_size, seed=seed)
    # epochs of equal length that add up to exactly args.steps
    epochs = _epochs_for(args.steps, args.steps_per_epoch)
    steps_per_epoch = args.steps // epochs
    timer = EpochTimer()
    result = training.fit(
        model,
        train,
        work_dir / f"{name}_seed{seed}",
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        early_stopping_patience=None,
        max_train_minutes=None,
        resume=False,
        verbose=2 if args.verbose else 0,
        tensorboard=False,
        callbacks=[timer],
    )
    crops_per_epoch = steps_per_epoch * args.batch_size
    later_epochs = timer.seconds[1:] or timer.seconds
    test_images = np.asarray(source.splits["test"].images, dtype=np.float32)
    reconstructions = np.clip(model.reconstruct(test_images, args.inference_batch), 0.0, 1.0)
    scores = metrics.evaluate_reconstructions(test_images, reconstructions)
    return {
        "seed": seed,
        "steps": int(model.optimizer.iterations.numpy()),
        "epochs": result.epochs_completed,
        "train_seconds": round(result.train_seconds, 1),
        # after the first epoch, which includes tracing the training step
        "train_crops_per_second": round(crops_per_epoch * len(later_epochs) / sum(later_epochs), 2),
        "inference_slices_per_second": round(
            _inference_rate(model, test_images, args.inference_batch), 2
        ),
        "restarted_codes": model.quantizer.dead_codes_restarted,
        "code_perplexity_test": metrics.perplexity(
            model.encode(test_images, args.inference_batch), model.num_embeddings
        ),
        **{name: float(scores[name.removesuffix("_test")]) for name in SCORES},
    }


def summarise(rows: list[dict]) -> dict:
    """Mean, standard deviation (ddof 1), minimum and maximum of each score over seeds."""
    summary = {}
    for name in (*SCORES, "train_crops_per_second", "inference_slices_per_second"):
        values = np.array([row[name] for row in rows], dtype=np.float64)
        summary[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return summary


def compare(report: dict, better: str, worse: str, what: str) -> dict:
    """Difference of mean scores ``better - worse`` and whether it exceeds the spread."""
    result = {"from": worse, "to": better, "contribution_of": what}
    for name in SCORES:
        high, low = report[better]["summary"][name], report[worse]["summary"][name]
        difference = high["mean"] - low["mean"]
        result[name] = {
            "difference": difference,
            "clear": bool(abs(difference) > high["std"] + low["std"]),
        }
    return result


def main(argv: list[str] | None = None) -> dict:
    defaults = training.DEFAULT_TRAINING
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="OASIS folder (default: demo cohort)")
    parser.add_argument("--image-size", type=int, default=models.DEFAULT_CONFIG["image_size"])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--models", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    parser.add_argument("--crop-size", type=int, default=defaults["crop_size"])
    parser.add_argument("--steps-per-epoch", type=int, default=defaults["steps_per_epoch"])
    parser.add_argument("--learning-rate", type=float, default=defaults["learning_rate"])
    parser.add_argument("--inference-batch", type=int, default=32)
    parser.add_argument("--data-seed", type=int, default=42, help="seed of the demo cohort")
    parser.add_argument("--smoke", action="store_true", help="tiny data, seconds of training")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/reconstruction.json")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")

    source = data.load_slices(
        args.data_dir, image_size=args.image_size, seed=args.data_seed, smoke=args.smoke
    )
    report = {
        "benchmark": "reconstruction",
        "command": "benchmarks/reconstruction.py " + " ".join(argv or sys.argv[1:]),
        "data": source.label,
        "layout": source.layout,
        "image_size": args.image_size,
        "train_slices": len(source.splits["train"]),
        "test_slices": len(source.splits["test"]),
        "steps_per_model": args.steps,
        "seeds": args.seeds,
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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work_dir:
        for name in args.models:
            cls, make_config = CANDIDATES[name]
            config = make_config()
            probe = _build(name, args.image_size, 0, args.learning_rate)
            entry = report["models"][name] = {
                "config": {key: value for key, value in config.items() if key != "image_size"},
                "parameters": int(probe.count_params()),
                "runs": [],
            }
            del probe
            for seed in args.seeds:
                row = train_and_score(name, seed, source, args, Path(work_dir))
                entry["runs"].append(row)
                print(name, json.dumps(row), flush=True)
            entry["summary"] = summarise(entry["runs"])
            out.write_text(json.dumps(report, indent=2, default=str) + "\n")  # partial results

    names = set(report["models"])
    report["comparisons"] = []
    if {"keras_io_example", "keras_io_series_quantizer"} <= names:
        report["comparisons"].append(
            compare(report["models"], "keras_io_series_quantizer", "keras_io_example", "quantizer")
        )
    if {"keras_io_series_quantizer", "series_default"} <= names:
        report["comparisons"].append(
            compare(report["models"], "series_default", "keras_io_series_quantizer", "architecture")
        )
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for name, entry in report["models"].items():
        summary = entry["summary"]
        print(
            f"{name:27s} params {entry['parameters']:7d}  "
            + "  ".join(
                f"{score} {summary[score]['mean']:.4f}±{summary[score]['std']:.4f}"
                for score in SCORES
            )
        )
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
