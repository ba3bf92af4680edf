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

:data:`SCORE_CANDIDATES` read the restoration map differently from the same healed images
(``anomaly.restoration_score``: a z-score of the difference per tissue bin, the distance
to the healed image's local intensity distribution, texture absence, their maxima),
calibrated on the healthy validation slices' restorations (``anomaly.fit_score_reference``);
they cost no extra restoration, so the maps of a base detector are computed once per kind
and every score read from them. Each candidate also keeps its ``validation`` scores (the
mixed-kind validation lesions, what a choice of candidate may look at). ``--seeds`` repeats
the study with other lesion draws and restoration seeds: ``candidates`` holds the first
seed's results, ``seeds`` every seed's, and ``summary`` each kind's restoration scores over
the seeds with their mean and minimum over the kinds.

    .venv/bin/python benchmarks/lesion_kinds.py --run-dir runs/demo --seeds 42 43 \\
        --candidates notebook zscore texture zscore_texture \\
        --out benchmarks/results/lesion_kinds_demo.json
"""

from __future__ import annotations

import argparse
import json
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

#: Scores of the restoration map (``anomaly.restoration_score``) read from the healed
#: images of a detector of :data:`CANDIDATES` (``base``), with the options of
#: ``anomaly.fit_score_reference`` (``reference``), fitted on the healthy validation slices'
#: restorations: no extra restoration. Their reconstruction and likelihood maps are the
#: base's.
SCORE_CANDIDATES = {
    "zscore": {"base": "notebook", "score": "zscore", "reference": {}},
    "zscore_intensity": {
        "base": "notebook",
        "score": "zscore",
        "reference": {"texture_bins": 1},
    },
    "local": {"base": "notebook", "score": "local", "reference": {}},
    "texture": {"base": "notebook", "score": "texture", "reference": {}},
    "difference_texture": {"base": "notebook", "score": "difference_texture", "reference": {}},
    "zscore_texture": {"base": "notebook", "score": "zscore_texture", "reference": {}},
    "local_texture": {"base": "notebook", "score": "local_texture", "reference": {}},
    "zscore_local": {"base": "notebook", "score": "zscore_local", "reference": {}},
    "position": {"base": "notebook", "score": "position", "reference": {}},
    "position_texture": {"base": "notebook", "score": "position_texture", "reference": {}},
    "rarity": {"base": "notebook", "score": "rarity", "reference": {}},
    "difference_rarity": {"base": "notebook", "score": "difference_rarity", "reference": {}},
    "rarity_texture": {"base": "notebook", "score": "rarity_texture", "reference": {}},
    "difference_rarity_texture": {
        "base": "notebook",
        "score": "difference_rarity_texture",
        "reference": {},
    },
    "slice_rarity": {"base": "notebook", "score": "slice_rarity", "reference": {}},
    "difference_slice_rarity": {
        "base": "notebook",
        "score": "difference_slice_rarity",
        "reference": {},
    },
}

#: What the summary keeps of each kind's restoration scores.
SUMMARY_KEYS = ("auroc_pixel", "auprc_pixel", "dice_best", "dice_at_fpr_5",
                "lesions_detected_at_fpr_5")  # fmt: skip


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
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="lesion-draw and restoration seeds (default: --seed); the first seed's "
        "results are 'candidates', every seed's are under 'seeds', spread in 'summary'",
    )
    everything = [*CANDIDATES, *SCORE_CANDIDATES]
    parser.add_argument("--candidates", nargs="+", default=everything, choices=everything)
    parser.add_argument("--out", default="benchmarks/results/lesion_kinds_demo.json")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep what --out already holds (same run, slices and healthy slices: every "
        "seed, every candidate) and add or replace the seeds and candidates measured now",
    )
    arguments = parser.parse_args()
    seeds = arguments.seeds or [arguments.seed]

    run_dir = runs.resolve_run_dir(arguments.run_dir)
    notebook = runs.read_metrics(run_dir, "05_anomaly_detection")
    grids, vqvae, model, source = runs.load_series(
        run_dir, "05", data_dir=arguments.data_dir, seed=seeds[0]
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
        seed=seeds[0],
    )

    def maps_of(images, heights, seed, base):
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
            **CANDIDATES[base],
        )

    validation_indices = spread(arguments.healthy_slices, len(source.splits["validate"]))
    validation_healthy = source.splits["validate"].float_images(validation_indices)
    validation_heights = grids["validate"].slice_heights[validation_indices]
    test_indices = spread(arguments.slices, len(source.splits["test"]))
    test_images = source.splits["test"].float_images(test_indices)
    test_heights = grids["test"].slice_heights[test_indices]
    groups: dict[str, list[str]] = {}
    for candidate in arguments.candidates:
        base = SCORE_CANDIDATES[candidate]["base"] if candidate in SCORE_CANDIDATES else candidate
        groups.setdefault(base, []).append(candidate)
    by_seed: dict[str, dict] = {}
    if arguments.append and os.path.exists(arguments.out):
        with open(arguments.out) as file:
            previous = json.load(file)
        same = (previous.get("run_dir"), previous.get("slices"), previous.get("healthy_slices"))
        if same != (str(run_dir), len(test_indices), len(validation_indices)):
            raise ValueError(f"--append: {arguments.out} holds another run or slice count")
        by_seed = dict(previous.get("seeds", {}))
    for seed in seeds:
        results = by_seed.setdefault(str(seed), {})  # --append: the file's other candidates
        validation_images, validation_masks, _ = anomaly.draw_mixed_lesions(
            validation_healthy, anomaly.study_kinds(), seed=seed + 1, lesion_fraction=0.75
        )
        for base, members in groups.items():
            healthy = maps_of(validation_healthy, validation_heights, seed, base)
            validation = maps_of(validation_images, validation_heights, seed, base)
            references = {
                candidate: anomaly.fit_score_reference(
                    validation_healthy,
                    healthy.healed,
                    healthy.region,
                    **SCORE_CANDIDATES[candidate]["reference"],
                )
                for candidate in members
                if candidate in SCORE_CANDIDATES
            }

            def scored(result, images, candidate, references=references):
                """The candidate's maps of one :class:`anomaly.AnomalyMaps`, and seconds."""
                if candidate not in SCORE_CANDIDATES:
                    return result.maps, 0.0
                start = time.perf_counter()
                rescored = anomaly.rescore(
                    result,
                    images,
                    SCORE_CANDIDATES[candidate]["score"],
                    references[candidate],
                    settings["median_size"],
                )
                return rescored.maps, time.perf_counter() - start

            healthy_maps = {c: scored(healthy, validation_healthy, c)[0] for c in members}
            validation_maps = {c: scored(validation, validation_images, c)[0] for c in members}
            for candidate in members:
                thresholds = {
                    "notebook": dict(notebook["dice_thresholds"]),
                    "mixed_validation": {
                        method: anomaly.choose_dice_threshold(
                            validation_maps[candidate][method], validation_masks,
                            validation.region,
                        )
                        for method in anomaly.METHODS
                    },
                }  # fmt: skip
                results[candidate] = {
                    "options": (
                        CANDIDATES[candidate]
                        if candidate in CANDIDATES
                        else SCORE_CANDIDATES[candidate]
                    ),
                    "thresholds": thresholds,
                    "validation": {
                        method: _scores(
                            validation_maps[candidate][method],
                            validation_masks,
                            validation.region,
                            thresholds["mixed_validation"][method],
                            healthy_maps[candidate][method],
                            healthy.region,
                        )
                        for method in anomaly.METHODS
                    },
                    "rows": [],
                }
            for number, kind in enumerate(anomaly.study_kinds()):
                start = time.perf_counter()
                images, masks = anomaly.draw_lesion_kind(test_images, kind, seed=seed + number)
                result = maps_of(images, test_heights, seed + 1, base)
                map_seconds = time.perf_counter() - start
                for candidate in members:
                    maps, score_seconds = scored(result, images, candidate)
                    thresholds = results[candidate]["thresholds"]
                    methods = {}
                    for method in anomaly.METHODS:
                        scores = _scores(
                            maps[method],
                            masks,
                            result.region,
                            thresholds["mixed_validation"][method],
                            healthy_maps[candidate][method],
                            healthy.region,
                        )
                        scores["dice_at_notebook_threshold"] = anomaly.dice_at_threshold(
                            maps[method], masks, thresholds["notebook"][method], result.region
                        )
                        methods[method] = scores
                    results[candidate]["rows"].append(
                        {
                            **kind.as_dict(),
                            "lesion_pixels_per_slice": float(masks.sum(axis=(1, 2)).mean()),
                            "resampled": float(result.restoration.flagged.mean()),
                            "methods": methods,
                            "seconds": map_seconds + score_seconds,
                            "score_seconds_per_slice": score_seconds / len(images),
                        }
                    )
                    restoration = methods["restoration"]
                    print(
                        f"seed {seed} {candidate:18s} {kind.name:30s} restoration AUROC "
                        f"{restoration['auroc_pixel']:.3f} ceil(Dice) "
                        f"{restoration['dice_best']:.3f} Dice@5% "
                        f"{restoration['dice_at_fpr_5']:.3f} residual AUROC "
                        f"{methods['reconstruction']['auroc_pixel']:.3f}",
                        flush=True,
                    )
                write_report(
                    arguments,
                    run_dir,
                    len(test_indices),
                    len(validation_indices),
                    settings,
                    record,
                    by_seed,
                )  # fmt: skip  after each kind: a long run keeps its part


def _scores(maps, masks, region, threshold, healthy_maps, healthy_region) -> dict[str, float]:
    """``anomaly.evaluate_map`` (without the slice AUROC), lesions detected at the validation
    threshold and the healthy-FPR scores of one method's maps."""
    scores = anomaly.evaluate_map(maps, masks, region, threshold)
    scores.pop("auroc_slice")  # every test slice has a lesion; validation: not the point
    scores["lesions_detected_at_validation_threshold"] = anomaly.lesions_detected(
        maps, masks, threshold
    )
    scores.update(anomaly.healthy_fpr_scores(maps, masks, region, healthy_maps, healthy_region))
    return scores


def summarise(by_seed: dict[str, dict]) -> dict[str, dict]:
    """Per candidate: the restoration scores of each kind over the seeds (``values`` per
    seed, ``mean``, ``min``, ``max``; ``residual_*``: the reconstruction residual's, to
    compare), their mean and minimum over the kinds per seed (``overall``), and the
    validation scores per seed (what a choice may look at)."""
    summary: dict[str, dict] = {}
    candidates = {name for results in by_seed.values() for name in results}
    for candidate in sorted(candidates):
        present = [results[candidate] for results in by_seed.values() if candidate in results]
        kinds: dict[str, dict] = {}
        for result in present:
            for row in result["rows"]:
                entry = kinds.setdefault(row["name"], {})
                for key in SUMMARY_KEYS:
                    entry.setdefault(key, []).append(row["methods"]["restoration"][key])
                for key in ("auroc_pixel", "dice_best"):
                    residual = row["methods"].get("reconstruction", {}).get(key)
                    if residual is not None:
                        entry.setdefault(f"residual_{key}", []).append(residual)
        overall = {}
        for key in SUMMARY_KEYS:
            per_seed = [
                [row["methods"]["restoration"][key] for row in result["rows"]] for result in present
            ]
            overall[f"mean_over_kinds_{key}"] = [float(np.nanmean(v)) for v in per_seed if v]
            overall[f"min_over_kinds_{key}"] = [float(np.nanmin(v)) for v in per_seed if v]
        summary[candidate] = {
            "kinds": {
                name: {
                    key: {
                        "values": values,
                        "mean": float(np.nanmean(values)),
                        "min": float(np.nanmin(values)),
                        "max": float(np.nanmax(values)),
                    }
                    for key, values in entry.items()
                }
                for name, entry in kinds.items()
            },
            "overall": overall,
            "validation_restoration": {
                key: [result["validation"]["restoration"][key] for result in present]
                for key in SUMMARY_KEYS
            },
            "score_seconds_per_slice": float(
                np.mean([row["score_seconds_per_slice"] for r in present for row in r["rows"]])
            ),
        }
    return summary


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def write_report(arguments, run_dir, slices, healthy_slices, settings, record, by_seed) -> None:
    """Write the study's JSON (``--out``) with what is measured so far: ``candidates`` of
    the first seed (the schema the notebook reads), ``seeds`` (seed -> candidates) and
    ``summary`` (:func:`summarise`)."""
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
        "candidates": next(iter(by_seed.values())),
        "seeds": by_seed,
        "summary": summarise(by_seed),
        "machine": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "load_average": os.getloadavg(),
    }
    print(f"wrote {runs.write_json(arguments.out, report)}", flush=True)


if __name__ == "__main__":
    main()
