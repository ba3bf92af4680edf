"""Does the restoration score chosen on lesions of many kinds cost anything on notebook 05's
own synthetic lesions? The plain difference against the default score
(``anomaly.DEFAULT_RESTORATION_SCORE``) and the rarity alone, read from the *same* healed
slices, on a finished run of the series (notebooks 01-05, e.g. ``make run``).

For each seed, as notebook 05 does it with the run's models and its chosen setting
(``metrics.json``: walk and flag thresholds, restorations): the healthy validation slices'
maps and their :func:`~oasis_helpers.anomaly.fit_score_reference`; validation slices with
the notebook's synthetic lesions (seed + 1) for each score's Dice threshold; test slices
with synthetic lesions (seed) for the pixel AUROC, AUPRC, ⌈Dice⌉, the Dice at the
validation threshold and the healthy-FPR scores. The residual's test scores are the
baseline. Writes one JSON: per score, per seed and the mean/min/max over seeds.

Usage::

    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/restoration_scores.py \\
        --run-dir runs/demo --out benchmarks/results/restoration_scores_demo.json
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

from oasis_helpers import anomaly, blind_spot, runs  # noqa: E402

KEYS = ("auroc_pixel", "auprc_pixel", "dice_best", "dice_at_validation_threshold")
KEYS += ("dice_at_fpr_5", "lesions_detected_at_fpr_5")


def _evenly(count: int, total: int) -> np.ndarray:
    """Notebook 05's choice of slices: ``count`` indices evenly over ``total``."""
    return np.unique(np.linspace(0, total - 1, min(count, total)).astype(int))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--test-slices", type=int, default=96)
    parser.add_argument("--validation-slices", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 2026])
    parser.add_argument(
        "--scores", nargs="+", default=["difference", anomaly.DEFAULT_RESTORATION_SCORE, "rarity"]
    )
    parser.add_argument("--out", default="benchmarks/results/restoration_scores_demo.json")
    args = parser.parse_args(argv)
    machine = runs.describe_machine()
    run_dir = runs.resolve_run_dir(args.run_dir)
    notebook = json.loads((runs.notebook_dir(run_dir, "05_anomaly_detection") / "metrics.json")
                          .read_text())  # fmt: skip
    grids, vqvae, model, source = runs.load_series(run_dir, "05", data_dir=args.data_dir)
    config = {name: notebook["blind_spot"][name] for name in blind_spot.DEFAULT_BLIND_SPOT}
    flag_model, record = blind_spot.train_or_load(
        runs.notebook_dir(run_dir, "05_anomaly_detection") / blind_spot.MODEL_DIR,
        grids.num_embeddings,
        grids["train"].codes,
        grids["train"].slice_heights,
        grids["validate"].codes,
        grids["validate"].slice_heights,
        config=blind_spot.configuration(config),
    )
    if not record["loaded"]:
        print("note: the run's blind-spot model was not found; trained one here")
    validation_indices = _evenly(args.validation_slices, len(source.splits["validate"]))
    test_indices = _evenly(args.test_slices, len(source.splits["test"]))
    healthy = source.splits["validate"].float_images(validation_indices)
    validation_heights = grids["validate"].slice_heights[validation_indices]
    test_healthy = source.splits["test"].float_images(test_indices)
    test_heights = grids["test"].slice_heights[test_indices]
    settings = {
        "num_restorations": notebook["num_restorations"],
        "flag_model": flag_model,
        "flag_threshold": notebook["flag_threshold"],
        "temperature": notebook["temperature"],
        "flag_dilation": notebook["flag_dilation"],
        "median_size": notebook["median_size"],
    }

    def maps_of(images, heights, seed):
        return anomaly.anomaly_maps(
            vqvae, model, images, notebook["restoration_threshold"], heights, seed=seed,
            **settings,
        )  # fmt: skip

    by_seed: dict[str, dict] = {}
    started = time.perf_counter()
    for seed in args.seeds:
        validation_images, validation_masks = anomaly.synthesize_lesions(healthy, seed=seed + 1)
        test_images, test_masks = anomaly.synthesize_lesions(test_healthy, seed=seed)
        healthy_maps = maps_of(healthy, validation_heights, seed)
        reference = anomaly.fit_score_reference(healthy, healthy_maps.healed, healthy_maps.region)
        validation = maps_of(validation_images, validation_heights, seed)
        test = maps_of(test_images, test_heights, seed + 1)
        results = by_seed[str(seed)] = {}
        residual = anomaly.evaluate_map(test.maps["reconstruction"], test_masks, test.region, 0)
        results["residual"] = {key: residual[key] for key in ("auroc_pixel", "auprc_pixel")}
        results["residual"]["dice_best"] = residual["dice_best"]
        for score in args.scores:
            scored = {
                name: anomaly.rescore(result, images, score, reference, settings["median_size"])
                for name, result, images in [
                    ("healthy", healthy_maps, healthy),
                    ("validation", validation, validation_images),
                    ("test", test, test_images),
                ]
            }
            threshold = anomaly.choose_dice_threshold(
                scored["validation"].maps["restoration"], validation_masks, validation.region
            )
            scores = anomaly.evaluate_map(
                scored["test"].maps["restoration"], test_masks, test.region, threshold
            )
            scores.update(
                anomaly.healthy_fpr_scores(
                    scored["test"].maps["restoration"],
                    test_masks,
                    test.region,
                    scored["healthy"].maps["restoration"],
                    healthy_maps.region,
                )  # fmt: skip
            )
            scores = {key: float(scores[key]) for key in KEYS}
            scores["validation_auroc_pixel"] = anomaly.pixel_auroc(
                scored["validation"].maps["restoration"], validation_masks, validation.region
            )
            results[score] = scores
            print(seed, score, json.dumps({k: round(v, 3) for k, v in scores.items()}), flush=True)
    summary = {
        name: {
            key: {
                "values": [by_seed[str(seed)][name][key] for seed in args.seeds],
                "mean": float(np.mean([by_seed[str(seed)][name][key] for seed in args.seeds])),
                "min": float(np.min([by_seed[str(seed)][name][key] for seed in args.seeds])),
                "max": float(np.max([by_seed[str(seed)][name][key] for seed in args.seeds])),
            }
            for key in by_seed[str(args.seeds[0])][name]
        }
        for name in by_seed[str(args.seeds[0])]
    }
    report = {
        "command": " ".join(["benchmarks/restoration_scores.py", *(argv or sys.argv[1:])]),
        "run_dir": str(args.run_dir),
        "default_score": anomaly.DEFAULT_RESTORATION_SCORE,
        "test_slices": len(test_indices),
        "validation_slices": len(validation_indices),
        "seeds": by_seed,
        "summary": summary,
        "seconds": time.perf_counter() - started,
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
    }
    runs.write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
