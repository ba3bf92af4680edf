"""Lesion-kind study: which kinds of lesion notebook 05's three maps find, and which they miss.

Notebook 05 chooses its thresholds and its restoration setting on the series' own synthetic
lesions (``anomaly.synthesize_lesions``: irregular blobs of modest additive contrast). This
benchmark draws lesions of other kinds (``anomaly.study_kinds``: the reference kind, a
smooth disc of radius 8 px set close to white, and its one-factor variations in size,
intensity, edge and shape) into test slices of subjects no model saw, one lesion a slice,
and scores each map of each detector of :data:`CANDIDATES` (notebook 05's, and variations
of its restoration region) with notebook 05's models and settings, read from ``--run-dir``
(``05_anomaly_detection/metrics.json``: the restoration and flag thresholds, the number of
restorations, the Dice thresholds chosen on validation; the blind-spot model from its
folder, so nothing is retrained). For each kind and map:

* ``auroc_pixel``, ``auprc_pixel``, ``dice_best`` (``ceil(Dice)``, threshold chosen on the
  test lesions: optimistic);
* ``dice_at_validation_threshold`` and ``lesions_detected_at_validation_threshold`` (the
  share of lesions with at least half their pixels above it, ``anomaly.lesions_detected``)
  at the Dice threshold chosen on validation slices with lesions of a mix of the kinds
  (``anomaly.draw_mixed_lesions``, never the test slices); ``dice_at_notebook_threshold``
  at notebook 05's own (chosen on its synthetic lesions);
* ``dice_at_fpr_1``, ``dice_at_fpr_5``, ``lesions_detected_at_fpr_1``/``_5``: at thresholds
  fixed on the maps of *healthy* validation slices at 1 % and 5 % false-positive rate of
  brain pixels (``anomaly.healthy_fpr_scores``).

    .venv/bin/python benchmarks/lesion_kinds.py --run-dir runs/demo \\
        --out benchmarks/results/lesion_kinds_demo.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from oasis_helpers import anomaly, blind_spot, runs

#: Detectors compared: notebook 05's, and variations of its restoration region
#: (``anomaly.anomaly_maps`` options).
CANDIDATES = {
    "notebook": {},
    "filled": {"flag_fill_holes": True},
    "reflagged": {"reflag_rounds": 3},
    "filled_reflagged": {"flag_fill_holes": True, "reflag_rounds": 3},
}


def spread(count: int, total: int) -> np.ndarray:
    """``count`` indices spread evenly over ``range(total)`` (notebook 05's choice)."""
    return np.unique(np.linspace(0, total - 1, min(count, total)).astype(int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--slices", type=int, default=32, help="test slices per kind")
    parser.add_argument("--healthy-slices", type=int, default=32, help="healthy validation")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES)
    )
    parser.add_argument("--out", default="benchmarks/results/lesion_kinds_demo.json")
    arguments = parser.parse_args()

    run_dir = runs.resolve_run_dir(arguments.run_dir)
    notebook = runs.read_metrics(run_dir, "05_anomaly_detection")
    grids, vqvae, model, source = runs.load_series(
        run_dir, "05", data_dir=arguments.data_dir, seed=arguments.seed
    )
    settings = {
        "num_restorations": notebook["num_restorations"],
        "temperature": notebook["temperature"],
        "flag_dilation": notebook["flag_dilation"],
        "median_size": notebook["median_size"],
    }
    config = {
        key: value
        for key, value in notebook["blind_spot"].items()
        if key in blind_spot.DEFAULT_BLIND_SPOT
    }
    flag_model, record = blind_spot.train_or_load(
        runs.notebook_dir(run_dir, "05_anomaly_detection") / blind_spot.MODEL_DIR,
        grids.num_embeddings,
        grids["train"].codes,
        grids["train"].slice_heights,
        grids["validate"].codes,
        grids["validate"].slice_heights,
        config=config,
        seed=arguments.seed,
    )

    def maps_of(images, heights, seed, candidate):
        return anomaly.anomaly_maps(
            vqvae,
            model,
            images,
            notebook["restoration_threshold"],
            heights,
            seed=seed,
            flag_model=flag_model,
            flag_threshold=notebook["flag_threshold"],
            **settings,
            **CANDIDATES[candidate],
        )

    validation_indices = spread(arguments.healthy_slices, len(source.splits["validate"]))
    validation_healthy = source.splits["validate"].float_images(validation_indices)
    validation_heights = grids["validate"].slice_heights[validation_indices]
    validation_images, validation_masks, _ = anomaly.draw_mixed_lesions(
        validation_healthy, anomaly.study_kinds(), seed=arguments.seed + 1, lesion_fraction=0.75
    )
    test_indices = spread(arguments.slices, len(source.splits["test"]))
    test_images = source.splits["test"].float_images(test_indices)
    test_heights = grids["test"].slice_heights[test_indices]
    results = {}
    for candidate in arguments.candidates:
        healthy = maps_of(validation_healthy, validation_heights, arguments.seed, candidate)
        validation = maps_of(validation_images, validation_heights, arguments.seed, candidate)
        thresholds = {
            "notebook": dict(notebook["dice_thresholds"]),
            "mixed_validation": {
                method: anomaly.choose_dice_threshold(
                    validation.maps[method], validation_masks, validation.region
                )
                for method in anomaly.METHODS
            },
        }
        rows = []
        for number, kind in enumerate(anomaly.study_kinds()):
            start = time.perf_counter()
            images, masks = anomaly.draw_lesion_kind(
                test_images, kind, seed=arguments.seed + number
            )
            result = maps_of(images, test_heights, arguments.seed + 1, candidate)
            methods = {}
            for method in anomaly.METHODS:
                maps = result.maps[method]
                threshold = thresholds["mixed_validation"][method]
                scores = anomaly.evaluate_map(maps, masks, result.region, threshold)
                scores.pop("auroc_slice")  # every slice has a lesion
                scores["lesions_detected_at_validation_threshold"] = anomaly.lesions_detected(
                    maps, masks, threshold
                )
                scores["dice_at_notebook_threshold"] = anomaly.dice_at_threshold(
                    maps, masks, thresholds["notebook"][method], result.region
                )
                scores.update(
                    anomaly.healthy_fpr_scores(
                        maps, masks, result.region, healthy.maps[method], healthy.region
                    )
                )
                methods[method] = scores
            rows.append(
                {
                    **kind.as_dict(),
                    "lesion_pixels_per_slice": float(masks.sum(axis=(1, 2)).mean()),
                    "resampled": float(result.restoration.flagged.mean()),
                    "methods": methods,
                    "seconds": time.perf_counter() - start,
                }
            )
            restoration = methods["restoration"]
            print(
                f"{candidate:10s} {kind.name:32s} restoration AUROC "
                f"{restoration['auroc_pixel']:.3f} ceil(Dice) {restoration['dice_best']:.3f} "
                f"residual AUROC {methods['reconstruction']['auroc_pixel']:.3f}",
                flush=True,
            )
        results[candidate] = {
            "options": CANDIDATES[candidate],
            "thresholds": thresholds,
            "rows": rows,
        }
        write_report(
            arguments,
            run_dir,
            len(test_indices),
            len(validation_indices),
            settings,
            record,
            results,
        )  # fmt: skip  after each candidate: a long run keeps its part


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def write_report(arguments, run_dir, slices, healthy_slices, settings, record, results) -> None:
    """Write the study's JSON (``--out``) with the candidates measured so far."""
    report = {
        "command": "benchmarks/lesion_kinds.py "
        + " ".join(
            f"--{key.replace('_', '-')} {_shown(value)}" for key, value in vars(arguments).items()
        ),
        "run_dir": str(run_dir),
        "slices": slices,
        "healthy_slices": healthy_slices,
        "reference_kind": anomaly.REFERENCE_KIND.as_dict(),
        "settings": {**settings, "blind_spot": record["config"]},
        "candidates": results,
        "machine": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "load_average": os.getloadavg(),
    }
    print(f"wrote {runs.write_json(arguments.out, report)}", flush=True)


if __name__ == "__main__":
    main()
