"""Sampling benchmark: the prior's cached fast sampler against the keras.io example's loop.

Both samplers run the same prior (notebook 04's ``prior.keras`` when it exists,
else an untrained prior of the default configuration: the timing of a forward pass
does not depend on the weights' values, and the JSON says which was used):

``fast``
    :func:`oasis_helpers.prior.sample_codes`: per-block caches, the vertical stack
    once per row, the horizontal stack and head on one position per step, each row
    a compiled ``tf.while_loop`` (``fast_jit``: the same compiled with XLA).
``naive``
    The keras.io PixelCNN example's loop: one full-grid forward pass per position
    (here a compiled ``tf.function``; the example calls ``model.predict``, whose
    per-call overhead makes it slower still: ``naive_predict`` times that on a few
    positions). The naive loops are timed over ``--naive-positions`` positions after a
    warm-up and **extrapolated** to the whole grid (``h * w`` positions); the JSON marks
    these figures as extrapolated.

For each batch size (default 1, 16, 64): seconds for a whole ``h x w`` grid per
sampler and the ratio ``naive / fast``. Tracing happens in a warm-up call that
is not timed. The load average of the machine is recorded: on a shared machine the
absolute times vary, the ratio less so.

    .venv/bin/python benchmarks/sampling.py --run-dir runs/demo \\
        --out benchmarks/results/sampling_demo.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from oasis_helpers import prior, runs  # noqa: E402


def _load_or_build(run_dir: Path, num_embeddings: int) -> tuple[prior.GatedPixelCNN, str]:
    path = run_dir / "04_pixelcnn_prior" / prior.PRIOR_FILE
    if path.exists():
        return prior.load_prior(path, compile=False), f"trained: {path}"
    keras.utils.set_random_seed(0)
    config = {**prior.DEFAULT_PRIOR, "num_embeddings": num_embeddings}
    return prior.GatedPixelCNN(**config), "untrained DEFAULT_PRIOR (no prior.keras found)"


def _time_fast(model, batch, height, width, slice_heights, jit_compile: bool) -> float:
    sampler = prior.FastSampler(model, jit_compile=jit_compile)
    sampler.sample(batch, 2, width, slice_heights=slice_heights, seed=0)  # trace (not timed)
    start = time.perf_counter()
    sampler.sample(batch, height, width, slice_heights=slice_heights, seed=1)
    return time.perf_counter() - start


def _time_naive(model, batch, height, width, slice_heights, count: int) -> float:
    prior.sample_codes_naive(model, batch, height, width, slice_heights, seed=0, max_positions=2)
    start = time.perf_counter()
    prior.sample_codes_naive(
        model, batch, height, width, slice_heights, seed=1, max_positions=count
    )
    return (time.perf_counter() - start) / count


def _time_naive_predict(model, batch, height, width, slice_heights, count: int) -> float:
    """The keras.io loop literally: ``model.predict`` on the whole grid per position."""
    codes = np.zeros((batch, height, width), np.int32)
    inputs = (codes, slice_heights) if model.conditional else codes
    model.predict(inputs, verbose=0)  # warm-up
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for index in range(count):
        row, column = divmod(index, width)
        probabilities = keras.ops.softmax(model.predict(inputs, verbose=0)[:, row, column])
        cumulative = np.cumsum(np.asarray(probabilities), axis=-1)
        codes[:, row, column] = (
            (cumulative < rng.random((batch, 1))).sum(-1).clip(0, model.num_embeddings - 1)
        )
    return (time.perf_counter() - start) / count


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-dir", default="runs/demo", help="where notebook 04 saved prior.keras"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--num-embeddings", type=int, default=256, help="K without prior.keras")
    parser.add_argument("--naive-positions", type=int, default=200)
    parser.add_argument("--predict-positions", type=int, default=20)
    parser.add_argument("--no-jit", action="store_true", help="skip the XLA variant")
    parser.add_argument("--out", default="benchmarks/results/sampling.json")
    args = parser.parse_args(argv)

    model, origin = _load_or_build(runs.resolve_run_dir(args.run_dir), args.num_embeddings)
    grid = args.height * args.width
    report = {
        "prior": origin,
        "prior_config": {key: model.get_config()[key] for key in prior.DEFAULT_PRIOR},
        "parameters": int(model.count_params()),
        "grid": [args.height, args.width],
        "naive_positions_timed": args.naive_positions,
        "naive_extrapolated": True,
        "naive_note": (
            f"naive and naive_predict are timed over {args.naive_positions} (resp. "
            f"{args.predict_positions}) positions and extrapolated to {grid} positions"
        ),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
            "tensorflow": tf.__version__,
            "python": sys.version.split()[0],
        },
        "results": [],
    }
    for batch in args.batch_sizes:
        slice_heights = (
            np.linspace(0.2, 0.8, batch).astype(np.float32) if model.conditional else None
        )
        row = {"batch_size": batch}
        row["fast_seconds"] = _time_fast(
            model, batch, args.height, args.width, slice_heights, False
        )
        if not args.no_jit:
            row["fast_jit_seconds"] = _time_fast(
                model, batch, args.height, args.width, slice_heights, True
            )
        per_position = _time_naive(
            model, batch, args.height, args.width, slice_heights, args.naive_positions
        )
        row["naive_seconds_extrapolated"] = per_position * grid
        if args.predict_positions:
            row["naive_predict_seconds_extrapolated"] = grid * _time_naive_predict(
                model, batch, args.height, args.width, slice_heights, args.predict_positions
            )
        row["speedup_naive_over_fast"] = row["naive_seconds_extrapolated"] / row["fast_seconds"]
        if "fast_jit_seconds" in row:
            row["speedup_naive_over_fast_jit"] = (
                row["naive_seconds_extrapolated"] / row["fast_jit_seconds"]
            )
        row["fast_seconds_per_sample"] = row["fast_seconds"] / batch
        report["results"].append(row)
        print(json.dumps(row), flush=True)
    report["machine"]["load_average_at_end"] = list(os.getloadavg())
    out = runs.write_json(args.out, report)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
