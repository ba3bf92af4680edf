"""Does a layout give the samples anatomy? The one-level prior (notebook 04's default) against
the two-level "layout then texture" prior (:mod:`oasis_helpers.prior.layout`), on the
anatomy judge, on a finished run of the series (notebooks 01-04, e.g. ``make run``).

For each seed: the default prior (``DEFAULT_PRIOR``, ``DEFAULT_PRIOR_TRAINING``; notebook 04's
own prior counts as the seed of the run, ``--default-seeds`` trains more) and the two-level
prior (k-means top codes of 4x4 blocks, a top prior, a fine prior given the top grid;
``LAYOUT_TRAINING``), both trained here on the run's code grids and timed on this machine
(the run's prior's time is notebook 04's, under ``make run``'s load). Then, as
``benchmarks/judge.py`` does it, at one set size (the test split's): samples at heights drawn
from the test slices', decoded by the run's VQ-VAE, judged by notebook 04's saved judge
(:func:`oasis_helpers.judge.judge_summary`: KID against real test slices with the train-test
floor, classifier two-sample tests, anatomy errors). Also: bits per code on the test grids
(the fine prior's given the true top grid, the top prior's per top code), the seconds to
sample and decode 16 slices, and a figure of samples at heights 0.3 / 0.5 / 0.7 beside real
test slices nearest those heights.

Trainings are kept in ``--work-dir`` (``train_prior``'s run folders): a second call with the
same settings reads them back (``already_done``) and keeps the first call's seconds.

Usage::

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/layout_prior.py --run-dir runs/demo \\
        --out benchmarks/results/layout_prior_demo.json --figure /tmp/layout_samples.png
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

from oasis_helpers import data, judge, prior, runs  # noqa: E402
from oasis_helpers.prior import layout  # noqa: E402

FIGURE_HEIGHTS = (0.3, 0.5, 0.7)
TIMED_COUNT = 16


def _train_default(grids, work_dir: Path, seed: int):
    """A default prior trained on ``grids`` with seed ``seed``; ``(model, seconds)``."""
    runs.seed_everything(seed)
    model = prior.make_prior(num_embeddings=grids.num_embeddings)
    settings = {**prior.DEFAULT_PRIOR_TRAINING, "seed": seed}
    result = prior.train_prior(model, grids, work_dir / "default", settings, verbose=0)
    return model, result.total_train_seconds


def _train_two_level(grids, quantizer, work_dir: Path, seed: int, settings: dict):
    """Top and fine priors trained with seed ``seed`` and ``settings`` (as
    ``LAYOUT_TRAINING``); ``(top, fine, seconds per level)``."""
    runs.seed_everything(seed)
    top, fine = layout.make_two_level_priors(
        grids.num_embeddings, quantizer.top_codes, quantizer.block
    )
    settings = {name: {**value, "seed": seed} for name, value in settings.items()}
    folder = f"two_level_k{quantizer.top_codes}"
    if quantizer.block != layout.DEFAULT_LAYOUT["block"]:
        folder += f"_b{quantizer.block}"
    top_result, fine_result = layout.train_two_level(
        top,
        fine,
        grids,
        quantizer,
        work_dir / folder,
        settings,
        verbose=0,
    )
    return (
        top,
        fine,
        {"top": top_result.total_train_seconds, "fine": fine_result.total_train_seconds},
    )


def _timed(draw, vqvae) -> float:
    """Seconds of ``vqvae.decode(draw())`` after one warm-up call (tracing)."""
    vqvae.decode(draw())
    start = time.perf_counter()
    vqvae.decode(draw())
    return time.perf_counter() - start


def _figure(path, real, rows: dict, heights) -> None:
    """Rows of slices (real, then each generator's) at ``heights``, one column per slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["real (test)", *rows]
    columns = max(len(v) for v in [real, *rows.values()])
    figure, axes = plt.subplots(
        len(names), columns, figsize=(1.9 * columns, 2.0 * len(names)), squeeze=False
    )
    for row, (name, images) in enumerate(zip(names, [real, *rows.values()], strict=True)):
        for column in range(columns):
            axis = axes[row, column]
            axis.axis("off")
            if column < len(images):
                axis.imshow(images[column, ..., 0], cmap="gray", vmin=0, vmax=1)
                axis.set_title(f"{name}\nh={heights[column]:.2f}", fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=42, help="the run's seed (notebook 03's)")
    parser.add_argument("--default-seeds", type=int, nargs="*", default=[1])
    parser.add_argument("--two-level-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--top-codes", type=int, default=layout.DEFAULT_LAYOUT["top_codes"])
    parser.add_argument(
        "--variant",
        type=int,
        nargs=4,
        action="append",
        default=[],
        metavar=("BLOCK", "K_TOP", "FINE_EPOCHS", "TOP_BATCH"),
        help="an extra two-level run (first two-level seed): block, K_top, the fine prior's "
        "epochs and the top prior's batch size (the rest as LAYOUT_TRAINING)",
    )
    parser.add_argument("--block", type=int, default=layout.DEFAULT_LAYOUT["block"])
    parser.add_argument("--set-size", type=int, default=None)
    parser.add_argument("--c2st-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-only", action="store_true", help="train (and time), no judge")
    parser.add_argument("--work-dir", default="/tmp/layout_work")
    parser.add_argument("--figure", default="/tmp/layout_samples.png")
    parser.add_argument("--out", default="benchmarks/results/layout_prior_demo.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run_dir = runs.resolve_run_dir(args.run_dir)
    work_dir = Path(args.work_dir)
    machine = runs.describe_machine()
    upto = "04" if args.train_only else "05"
    artifacts = runs.load_series(run_dir, upto, data_dir=args.data_dir, seed=args.seed)
    grids, vqvae = artifacts.grids, artifacts.vqvae
    train_grids, test_grids = grids["train"], grids["test"]
    codebook = np.asarray(vqvae.quantizer.embeddings)

    # the models: name -> (kind, objects); trainings timed (or read back) ------------------------
    models: dict[str, dict] = {}
    if artifacts.prior is not None:
        notebook = json.loads((run_dir / "04_pixelcnn_prior" / "metrics.json").read_text())
        models[f"default_s{args.seed}"] = {
            "kind": "default",
            "prior": artifacts.prior,
            "train_seconds": notebook.get("train_seconds"),
            "trained_by": "notebook 04 (under make run)",
        }
    for seed in args.default_seeds:
        model, seconds = _train_default(grids, work_dir, seed)
        models[f"default_s{seed}"] = {"kind": "default", "prior": model, "train_seconds": seconds}
        print(f"default seed {seed}: {seconds:.0f} s", flush=True)
    base = layout.LAYOUT_TRAINING
    runs_wanted = [(args.block, args.top_codes, seed, base) for seed in args.two_level_seeds]
    for block, top_codes, fine_epochs, top_batch in args.variant:
        settings = {
            "top": {**base["top"], "batch_size": top_batch},
            "fine": {**base["fine"], "epochs": fine_epochs},
        }
        runs_wanted.append((block, top_codes, args.two_level_seeds[0], settings))
    quantizers = {}
    for block, top_codes, seed, settings in runs_wanted:
        if (block, top_codes) not in quantizers:
            start = time.perf_counter()
            quantizers[block, top_codes] = layout.fit_top_quantizer(
                train_grids.codes, codebook, block, top_codes, layout.DEFAULT_LAYOUT["seed"]
            )
            print(
                f"k-means {block}x{block}, K_top={top_codes}: {time.perf_counter() - start:.1f} s",
                flush=True,
            )
        quantizer = quantizers[block, top_codes]
        top, fine, seconds = _train_two_level(grids, quantizer, work_dir, seed, settings)
        name = f"two_level_k{top_codes}_s{seed}"
        if block != args.block:
            name = f"two_level_k{top_codes}_b{block}_s{seed}"
        models[name] = {
            "kind": "two_level",
            "top": top,
            "fine": fine,
            "quantizer": quantizer,
            "top_grid": grids.code_size // block,
            "settings": settings,
            "train_seconds": seconds["top"] + seconds["fine"],
            "train_seconds_per_level": seconds,
        }
        print(f"{name}: {seconds}", flush=True)
    rows = {
        name: {
            key: value
            for key, value in entry.items()
            if key
            in (
                "kind",
                "train_seconds",
                "train_seconds_per_level",
                "trained_by",
                "top_grid",
                "settings",
            )
        }
        for name, entry in models.items()
    }
    report = {
        "command": " ".join(
            [
                f"TF_ENABLE_ONEDNN_OPTS={machine['TF_ENABLE_ONEDNN_OPTS']}",
                ".venv/bin/python benchmarks/layout_prior.py",
                *(argv or sys.argv[1:]),
            ]
        ),
        "run_dir": str(run_dir),
        "layout": {"block": args.block, "top_codes": args.top_codes, **layout.LAYOUT_TRAINING},
        "default_training": prior.DEFAULT_PRIOR_TRAINING,
        "models": rows,
    }

    # likelihood and speed ----------------------------------------------------------------------
    test_heights = np.asarray(test_grids.slice_heights, np.float32)
    timed_heights = np.linspace(0.2, 0.8, TIMED_COUNT).astype(np.float32)
    size = grids.code_size
    for name, entry in models.items():
        row = rows[name]
        if entry["kind"] == "default":
            model = entry["prior"]
            row["nll_bits_per_code_test"] = prior.nll_bits_per_code(
                model, test_grids.codes, test_heights
            )
            row["sample_and_decode_16_seconds"] = _timed(
                lambda model=model: prior.sample_codes(
                    model, TIMED_COUNT, size, size, timed_heights, seed=0
                ),
                vqvae,
            )
        else:
            top, fine, quantizer = entry["top"], entry["fine"], entry["quantizer"]
            row.update(layout.two_level_nll(top, fine, quantizer, test_grids.codes, test_heights))
            row["sample_and_decode_16_seconds"] = _timed(
                lambda top=top, fine=fine, block=quantizer.block: layout.sample_two_level(
                    top, fine, TIMED_COUNT, size, size, block, timed_heights, seed=0
                )[0],
                vqvae,
            )
        print(name, json.dumps(row), flush=True)
    if args.train_only:
        report["machine"] = {**machine, "load_average_at_end": list(os.getloadavg())}
        runs.write_json(Path(args.out).with_suffix(".train.json"), json.loads(json.dumps(report)))
        return report

    # samples, judged as benchmarks/judge.py judges them -----------------------------------------
    source = data.load_slices(args.data_dir, image_size=grids.image_size, seed=args.seed)
    train, test = source.splits["train"], source.splits["test"]
    anatomy_judge = judge.load_judge(run_dir / "04_pixelcnn_prior")
    set_size = judge.equal_size({}, train, test, args.set_size)
    asked = np.random.default_rng(args.seed + 2).choice(test_heights, set_size)
    images, sampling_seconds = {}, {}
    figure_rows = {}
    figure_heights = np.repeat(np.asarray(FIGURE_HEIGHTS, np.float32), 2)
    for index, (name, entry) in enumerate(models.items()):
        start = time.perf_counter()
        if entry["kind"] == "default":
            codes = prior.sample_many(entry["prior"], set_size, size, size, asked, seed=3 + index)
            shown = prior.sample_codes(entry["prior"], 6, size, size, figure_heights, seed=7)
        else:
            block = entry["quantizer"].block
            codes, _ = layout.sample_two_level(
                entry["top"], entry["fine"], set_size, size, size, block, asked, seed=3 + index
            )
            shown, _ = layout.sample_two_level(
                entry["top"], entry["fine"], 6, size, size, block, figure_heights, seed=7
            )
        images[name] = vqvae.decode(codes)
        sampling_seconds[name] = time.perf_counter() - start
        figure_rows[name] = vqvae.decode(shown)
    nearest = [int(np.abs(test_heights - h).argmin()) for h in FIGURE_HEIGHTS]
    nearest = [i for i in nearest for _ in range(2)]
    _figure(args.figure, test.float_images(np.asarray(nearest)), figure_rows, test_heights[nearest])

    start = time.perf_counter()
    summary = judge.judge_summary(
        anatomy_judge.model,
        anatomy_judge.report,
        images,
        train,
        test,
        asked_heights={name: asked for name in images},
        set_size=set_size,
        c2st_sets=tuple(images),
        c2st_seeds=args.c2st_seeds,
        seed=args.seed,
    )
    for name, row in rows.items():
        for key in ("kid", "c2st_accuracy"):
            row[key] = summary[f"{key}_{name}"]
            row[f"{key}_std"] = summary[f"{key}_{name}_std"]
        row["kid_over_floor"] = summary[f"kid_{name}"] / summary["kid_train_test"]
        for key in ("anatomy_height_error", "anatomy_tissue_error"):
            row[key] = summary.get(f"{key}_{name}")
        row["generate_and_decode_seconds"] = sampling_seconds[name]
    report.update(
        {
            "set_size": set_size,
            "kid_train_test": summary["kid_train_test"],
            "kid_train_test_std": summary["kid_train_test_std"],
            "c2st_accuracy_train_test": summary["c2st_accuracy_train_test"],
            "c2st_accuracy_train_test_std": summary["c2st_accuracy_train_test_std"],
            "summary": summary,
            "figure": str(args.figure),
            "seconds": {
                "judge_summary": time.perf_counter() - start,
                "total": time.perf_counter() - started,
            },
            "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
        }
    )
    out = Path(args.out)
    runs.write_json(out, json.loads(json.dumps(report, default=lambda v: v.tolist())))
    print(json.dumps(rows, indent=1))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
