"""Does the anatomy judge work? Its verdict on notebook 04's prior, the three baselines and
real slices, on a finished run of the series (notebooks 01-04, e.g. ``make run``).

The judge (:mod:`oasis_helpers.judge`) is trained on the run's real training slices
(height, tissue fractions and layout from the demo cohort's masks) and scored on the
validation slices. Then, at one set size ``n`` (the test split's size, or ``--set-size``):

* the prior's samples (heights drawn from the test slices', as notebook 04 draws them),
  the neighbour-table ("context"), unigram and uniform baselines' samples, all decoded by
  the run's VQ-VAE, and the VQ-VAE's reconstructions of real validation slices (what the
  decoder alone costs);
* KID in the judge's features against the real test slices (``kid_train_test``: real
  training slices, the floor, about 0), and the classifier two-sample test against real
  training slices (``c2st_accuracy_train_test``: real test slices held out by subject,
  the floor, about 0.5), both from :func:`oasis_helpers.judge.judge_summary`;
* for comparison, the Fréchet distance at equal set sizes in the judge's features and in
  the VQ-VAE encoder's (notebook 04's measure until now).

Usage::

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/judge.py --run-dir runs/demo \\
        --out benchmarks/results/judge_demo.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from oasis_helpers import data, judge, metrics, prior, runs  # noqa: E402


def _generate(artifacts, size: int, seed: int) -> tuple[dict, dict, dict]:
    """Decoded slices per generator, the heights asked of the prior, and sampling seconds."""
    grids, vqvae, model = artifacts.grids, artifacts.vqvae, artifacts.prior
    train, validation, test = (grids[name] for name in data.SPLITS)
    grid = (size, grids.code_size, grids.code_size)
    heights = prior.heights_if_conditional(model, test)
    asked = None if heights is None else np.random.default_rng(seed + 2).choice(heights, size)
    uniform = prior.UniformBaseline(grids.num_embeddings)
    unigram = prior.UnigramBaseline(grids.num_embeddings).fit(train.codes)
    neighbour = prior.NeighbourBaseline(grids.num_embeddings).fit(
        train.codes, validation_codes=validation.codes
    )
    seconds = {}
    codes = {}
    for name, draw in (
        ("prior", lambda: prior.sample_many(model, *grid, asked, seed=seed + 3)),
        ("context", lambda: neighbour.sample(*grid, seed=seed + 4)),
        ("unigram", lambda: unigram.sample(*grid, seed=seed + 5)),
        ("uniform", lambda: uniform.sample(*grid, seed=seed + 6)),
    ):
        start = time.perf_counter()
        codes[name] = draw()
        seconds[name] = time.perf_counter() - start
    # the decoder's cost alone: the VQ-VAE's reconstructions of real validation slices (not
    # training slices: the C2ST's real set is drawn from those, and a slice beside its own
    # reconstruction would push the classifier below chance)
    picked = np.sort(
        np.random.default_rng(seed + 7).choice(len(validation), min(size, len(validation)), False)
    )
    codes["reconstruction"] = validation.codes[picked]
    images = {name: vqvae.decode(grid_codes) for name, grid_codes in codes.items()}
    return images, {"prior": asked} if asked is not None else {}, seconds


def _plain(value):
    """NumPy scalars and arrays as plain Python, for ``json.dumps``."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _frechet_equal(features_of, images: dict, reference, size: int, seed: int) -> dict:
    reference_features = features_of(reference)
    return {
        name: judge.frechet_distance_equal(features_of(x), reference_features, size, seed)
        for name, x in images.items()
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=42, help="the run's seed (notebook 03's)")
    parser.add_argument("--set-size", type=int, default=None)
    parser.add_argument("--judge-steps", type=int, default=judge.DEFAULT_JUDGE_TRAINING["steps"])
    parser.add_argument("--c2st-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/judge_demo.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run_dir = runs.resolve_run_dir(args.run_dir)
    machine = runs.describe_machine()
    artifacts = runs.load_series(run_dir, "05", data_dir=args.data_dir, seed=args.seed)
    image_size = artifacts.grids.image_size
    source = data.load_slices(args.data_dir, image_size=image_size, seed=args.seed)
    train, validation, test = (source.splits[name] for name in data.SPLITS)
    for name in data.SPLITS:
        if len(source.splits[name]) != len(artifacts.grids[name]):
            raise ValueError(f"the slices of {name} do not match the run's codes")

    start = time.perf_counter()
    result = judge.train_judge_on_splits(train, validation, seed=args.seed, steps=args.judge_steps)
    judge_seconds = time.perf_counter() - start
    print("judge:", json.dumps(result.report), flush=True)

    size = judge.equal_size({}, train, test, args.set_size)
    start = time.perf_counter()
    images, asked, sample_seconds = _generate(artifacts, size, args.seed)
    generate_seconds = time.perf_counter() - start

    start = time.perf_counter()
    summary = judge.judge_summary(
        result.model,
        result.report,
        images,
        train,
        test,
        asked_heights=asked,
        set_size=size,
        c2st_sets=tuple(images),
        c2st_seeds=args.c2st_seeds,
        seed=args.seed,
    )
    summary_seconds = time.perf_counter() - start
    print(json.dumps({k: v for k, v in summary.items() if k != "judge"}, indent=1), flush=True)

    test_images = test.float_images(np.arange(len(test)))
    rng = np.random.default_rng(args.seed + 8)
    with_floor = {**images, "train_test": train.float_images(rng.choice(len(train), size, False))}
    frechet = {
        "judge_features": _frechet_equal(
            lambda x: judge.judge_features(result.model, x), with_floor, test_images, size, 0
        ),
        "vqvae_encoder_features": _frechet_equal(
            lambda x: metrics.encoder_features(artifacts.vqvae, x), with_floor, test_images, size, 0
        ),
    }
    report = {
        "command": " ".join(
            [
                f"TF_ENABLE_ONEDNN_OPTS={machine['TF_ENABLE_ONEDNN_OPTS']}",
                ".venv/bin/python benchmarks/judge.py",
                *(argv or sys.argv[1:]),
            ]
        ),
        "run_dir": str(run_dir),
        "image_size": image_size,
        "code_size": artifacts.grids.code_size,
        "prior_conditional": bool(artifacts.prior.conditional),
        "set_size": size,
        "summary": summary,
        "frechet_equal_size": frechet,
        "seconds": {
            "judge_training": judge_seconds,
            "judge_fit_only": result.report["train_seconds"],
            "sampling": sample_seconds,
            "generate_and_decode": generate_seconds,
            "judge_summary": summary_seconds,
            "total": time.perf_counter() - started,
        },
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
    }
    out = Path(args.out)
    runs.write_json(out, json.loads(json.dumps(report, default=_plain)))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
