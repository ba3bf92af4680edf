"""Anomaly benchmark: variants of prior-guided restoration against the residual, on
validation slices with synthetic lesions (never the test slices), and restoration speed.

Reads notebook 03's VQ-VAE and codes, notebook 04's prior and the slices they were made from
(``runs.load_series``, which checks that they match) from ``--run-dir``, and the
blind-spot models from the folder where notebook 05 keeps one per configuration
(``05_anomaly_detection/blind_spot/<hash>/``, ``blind_spot.train_or_load``): each
``--holes`` value with ``--epochs`` and the other settings of
``blind_spot.DEFAULT_BLIND_SPOT`` is loaded when trained before (the default hole and
epochs are notebook 05's model), else trained and saved there. The validation slices get
synthetic lesions (``anomaly.synthesize_lesions``, seed ``seed + 1`` as in notebook 05).
For each variant it records the pixel AUROC and best Dice of the restoration map after
1..R restorations, beside the reconstruction residual and the likelihood map, and the
share of codes resampled:

* ``flag``: what chooses the region where the walk may resample: ``blind-spot hole H``
  (the blind-spot model's 3x3 mean surprise, ``anomaly.flag_probabilities``, below the
  ``quantile`` of healthy validation brain codes; the walk inside resamples codes below
  the prior's ``anomaly.DEFAULT_RESTORATION_QUANTILE`` of healthy codes, as notebook 05
  does) or ``prior`` (one causal prior pass below the ``quantile``, which is also the
  walk's threshold: the series' method before the blind-spot model);
* ``dilation``: the region is the brain codes within ``d`` codes of the flags
  (``anomaly.restoration_region``);
* ``map``: ``input`` (``|G * (x - x_healed)|`` with the default smoothing of the signed
  difference, ``anomaly.DEFAULT_DIFFERENCE_SMOOTHING``), ``input sigma S`` (Gaussian
  ``sigma = S`` pixels; 0 is the plain ``|x - x_healed|``), ``reconstruction``
  (``|G * (x_hat - x_healed)|``) and ``flagged`` (``|G * (x - x_healed)|`` only in the
  blocks of resampled codes).

The residual baseline is likewise recorded for each ``sigma`` in :data:`SIGMAS`.

Codes are counted with the series' one definition of each: a brain code is one whose
``f x f`` pixel block touches the brain (``anomaly.brain_codes``), a lesion code one whose
block a lesion covers for at least a quarter (``anomaly.lesion_codes``), and the other
brain codes are the healthy ones. ``resampled_lesion_codes`` and ``resampled_other_codes``
are the shares of the lesion codes and of the other brain codes that a variant resampled.

Diagnostics (they use the lesion masks, so they are bounds, not detectors):

* ``code_auroc``: how well a per-code surprise separates the lesion codes from the other
  brain codes (``anomaly.code_level_auroc``): the prior's ``-log p(z_ij | z_<ij)`` of one
  pass and its 3x3 box mean, and each blind-spot model's 3x3 mean surprise;
  ``lesion_codes`` counts the lesion codes;
* ``oracle_region``: the restoration map when every brain code within
  ``anomaly.DEFAULT_FLAG_DILATION`` (1) codes of a lesion code is resampled (threshold
  1): what restoration would score if its flags were exactly the lesion codes (dilated
  as ``anomaly.restoration_region`` dilates flags).

``--contrast-range`` and ``--min-area`` change the synthetic lesions (e.g. only strong,
large ones) to see how each map depends on them.

Speed: a fast restoration (``FastSampler.restore``) of 16 grids against one sampling
pass of 16 grids, and one full-network pass (the reference restoration runs one per
position where some grid changed).

    .venv/bin/python benchmarks/anomaly.py --run-dir runs/demo \\
        --out benchmarks/results/anomaly_demo.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from oasis_helpers import anomaly, blind_spot, prior, runs  # noqa: E402

#: Gaussian ``sigma`` (pixels) of the signed differences compared beside the default.
SIGMAS = tuple(sorted({0.0, anomaly.DEFAULT_DIFFERENCE_SMOOTHING, 2.0}))
#: The key of the default sigma's residual (``baselines["reconstruction"]`` repeats it).
DEFAULT_SIGMA_KEY = str(float(anomaly.DEFAULT_DIFFERENCE_SMOOTHING))

#: The blind-spot model's flag quantiles compared for every hole.
FLAG_QUANTILES = anomaly.DEFAULT_FLAG_QUANTILES


def _variants(holes) -> list[tuple[str, float, int]]:
    """``(flag, quantile, dilation)``: every hole at every flag quantile with the default
    dilation, other dilations for the default hole, and the prior-pass region."""
    rows = [("prior", 0.01, anomaly.DEFAULT_FLAG_DILATION)]
    for hole in holes:
        rows += [
            (f"blind-spot hole {hole}", quantile, anomaly.DEFAULT_FLAG_DILATION)
            for quantile in FLAG_QUANTILES
        ]
    default_hole = blind_spot.DEFAULT_BLIND_SPOT["hole"]
    if default_hole in holes:
        for dilation in (0, 2):
            rows.append((f"blind-spot hole {default_hole}", 0.01, dilation))
    return rows


def _scores(maps, masks, region) -> dict[str, float]:
    return {
        "auroc_pixel": anomaly.pixel_auroc(maps, masks, region),
        "dice_best": anomaly.best_dice(maps, masks, region)[0],
    }


def _diagnostics(
    vqvae,
    model,
    images,
    masks,
    region,
    codes,
    code_scores,
    brain_codes,
    lesion_codes,
    heights,
    arguments,
) -> dict:
    reach = 2 * anomaly.DEFAULT_FLAG_DILATION + 1
    oracle = ndimage.binary_dilation(lesion_codes, np.ones((1, reach, reach), bool)) & brain_codes
    restoration = anomaly.restore_repeatedly(
        codes,
        functools.partial(anomaly.restore_with_prior, model, slice_heights=heights, region=oracle),
        1.0,
        arguments.restorations,
        seed=arguments.seed,
    )
    healed = np.stack([vqvae.decode(grids_) for grids_ in restoration.codes])
    return {
        "code_auroc": {
            **{
                name: anomaly.code_level_auroc(scores, masks, brain_codes)
                for name, scores in code_scores.items()
            },
            "lesion_codes": int(lesion_codes.sum()),
        },
        "oracle_region": {
            count: _scores(
                anomaly.postprocess_map(anomaly.restoration_map(images, healed[:count]), region),
                masks,
                region,
            )
            for count in range(1, arguments.restorations + 1)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slices", type=int, default=32, help="validation slices")
    parser.add_argument("--restorations", type=int, default=3)
    parser.add_argument("--lesion-fraction", type=float, default=0.75)
    parser.add_argument(
        "--contrast-range", type=float, nargs=2, default=None, help="of the lesions"
    )
    parser.add_argument("--min-area", type=float, default=None, help="pixels, of the lesions")
    parser.add_argument(
        "--skip-variants", action="store_true", help="only the baselines and diagnostics"
    )
    parser.add_argument(
        "--holes",
        type=int,
        nargs="+",
        default=sorted({2, blind_spot.DEFAULT_BLIND_SPOT["hole"]}),
        help="blind-spot holes to compare (the default one is notebook 05's model)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=blind_spot.DEFAULT_BLIND_SPOT["epochs"],
        help="of each blind-spot model",
    )
    parser.add_argument("--out", default="benchmarks/results/anomaly_demo.json")
    arguments = parser.parse_args()

    run_dir = runs.resolve_run_dir(arguments.run_dir)
    grids, vqvae, model, source = runs.load_series(
        run_dir, "05", data_dir=arguments.data_dir, seed=arguments.seed
    )
    split = source.splits["validate"]
    indices = np.unique(np.linspace(0, len(split) - 1, min(arguments.slices, len(split))))
    indices = indices.astype(int)
    healthy = split.float_images(indices)
    # the blind-spot model takes the heights always; an unconditional prior ignores them
    heights = grids["validate"].slice_heights[indices]
    lesion_options = {}
    if arguments.contrast_range is not None:
        lesion_options["contrast_range"] = tuple(arguments.contrast_range)
    if arguments.min_area is not None:
        lesion_options["min_area"] = arguments.min_area
    images, masks = anomaly.synthesize_lesions(
        healthy,
        seed=arguments.seed + 1,
        lesion_fraction=arguments.lesion_fraction,
        **lesion_options,
    )
    healthy_codes = vqvae.encode(healthy)
    healthy_probabilities = 2.0 ** -prior.nll_map_bits(model, healthy_codes, heights)
    healthy_brain = anomaly.brain_codes(healthy, healthy_codes.shape[1:])

    region = anomaly.brain_region(images)
    reconstructions = vqvae.reconstruct(images)
    codes = vqvae.encode(images)
    nll_bits = prior.nll_map_bits(model, codes, heights)
    brain_codes = anomaly.brain_codes(images, codes.shape[1:])
    lesion_codes = anomaly.lesion_codes(masks, codes.shape[1:]) & brain_codes
    other_codes = brain_codes & ~lesion_codes
    smoothed_nll = ndimage.uniform_filter(
        nll_bits, (1, *[anomaly.DEFAULT_LIKELIHOOD_SMOOTHING] * 2)
    )
    residual_by_sigma = {
        str(sigma): _scores(
            anomaly.postprocess_map(
                anomaly.residual_map(images, reconstructions, smoothing=sigma), region
            ),
            masks,
            region,
        )
        for sigma in SIGMAS
    }
    baselines = {
        "reconstruction": residual_by_sigma[DEFAULT_SIGMA_KEY],
        "reconstruction_by_sigma": residual_by_sigma,
        "likelihood": _scores(
            anomaly.postprocess_map(
                anomaly.upsample_grid_map(smoothed_nll, images.shape[1], "bilinear"), region
            ),
            masks,
            region,
        ),
    }
    print("baselines", baselines, flush=True)
    # the blind-spot models: one folder per configuration, notebook 05's for the defaults
    model_dir = runs.notebook_dir(run_dir, "05_anomaly_detection") / blind_spot.MODEL_DIR
    train = grids["train"]
    train_heights = train.slice_heights
    flag_models, training = {}, {}
    for hole in arguments.holes:
        start = time.perf_counter()
        flag_models[hole], record = blind_spot.train_or_load(
            model_dir,
            grids.num_embeddings,
            train.codes,
            train_heights,
            grids["validate"].codes,
            grids["validate"].slice_heights,
            config={"hole": hole, "epochs": arguments.epochs},
            seed=arguments.seed,
        )
        training[hole] = {
            "folder": os.path.relpath(record["folder"], run_dir),
            "config": record["config"],
            "loaded": record["loaded"],
            "seconds": None if record["loaded"] else time.perf_counter() - start,
            "validation_bits_per_code": record["history"]["val_loss"][-1] / np.log(2),
        }
    flags = {
        hole: anomaly.flag_probabilities(flag_models[hole], codes, heights)[0]
        for hole in arguments.holes
    }
    healthy_flags = {
        hole: anomaly.flag_probabilities(flag_models[hole], healthy_codes, heights)[0]
        for hole in arguments.holes
    }
    walk_threshold = anomaly.choose_restoration_threshold(
        healthy_probabilities[healthy_brain], anomaly.DEFAULT_RESTORATION_QUANTILE
    )
    diagnostics = _diagnostics(
        vqvae,
        model,
        images,
        masks,
        region,
        codes,
        {
            "nll": nll_bits,
            "nll_box_mean": smoothed_nll,
            **{f"blind_spot_hole_{hole}": -np.log2(flags[hole]) for hole in arguments.holes},
        },
        brain_codes,
        lesion_codes,
        heights,
        arguments,
    )
    diagnostics["blind_spot_training"] = training
    print("diagnostics", diagnostics, flush=True)
    factor = images.shape[1] // codes.shape[1]
    results = []
    for flag, quantile, dilation in [] if arguments.skip_variants else _variants(arguments.holes):
        if flag == "prior":
            scores, healthy_scores = 2.0**-nll_bits, healthy_probabilities
        else:
            hole = int(flag.split()[-1])
            scores, healthy_scores = flags[hole], healthy_flags[hole]
        threshold = anomaly.choose_restoration_threshold(healthy_scores[healthy_brain], quantile)
        changeable = anomaly.restoration_region(scores, threshold, brain_codes, dilation)
        walk = threshold if flag == "prior" else walk_threshold
        start = time.perf_counter()
        restoration = anomaly.restore_repeatedly(
            codes,
            functools.partial(
                anomaly.restore_with_prior, model, slice_heights=heights, region=changeable
            ),
            walk,
            arguments.restorations,
            seed=arguments.seed,
        )
        seconds = time.perf_counter() - start
        healed = np.stack([vqvae.decode(grids_) for grids_ in restoration.codes])
        flagged_pixels = np.repeat(
            np.repeat(restoration.flagged, factor, axis=2), factor, axis=3
        ).astype(np.float32)
        row = {
            "flag": flag,
            "quantile": quantile,
            "threshold": threshold,
            "walk_threshold": walk,
            "dilation": dilation,
            "region_share": float(changeable.mean()),
            "resampled": float(restoration.flagged.mean()),
            "resampled_lesion_codes": float(restoration.flagged[:, lesion_codes].mean()),
            "resampled_other_codes": float(restoration.flagged[:, other_codes].mean()),
            "seconds_per_restoration_per_slice": seconds / arguments.restorations / len(codes),
            "maps": {},
        }
        each = np.stack(
            [anomaly.restoration_map(images, healed[r : r + 1]) for r in range(len(healed))]
        )
        for count in range(1, arguments.restorations + 1):
            variants = {
                "input": anomaly.restoration_map(images, healed[:count]),
                **{
                    f"input sigma {sigma:g}": anomaly.restoration_map(
                        images, healed[:count], smoothing=sigma
                    )
                    for sigma in SIGMAS
                },
                "reconstruction": anomaly.restoration_map(reconstructions, healed[:count]),
                "flagged": (each[:count] * flagged_pixels[:count]).mean(0),
            }
            for name, raw in variants.items():
                scores = _scores(anomaly.postprocess_map(raw, region), masks, region)
                row["maps"].setdefault(name, {})[count] = scores
        results.append(row)
        print(
            json.dumps({key: value for key, value in row.items() if key != "maps"}),
            {name: row["maps"][name][arguments.restorations] for name in row["maps"]},
            flush=True,
        )

    # speed: restoration against sampling and against one full pass, 16 grids
    batch = codes[:16]
    batch_heights = None if heights is None else heights[:16]
    threshold = anomaly.choose_restoration_threshold(healthy_probabilities[healthy_brain], 0.01)
    prior.sample_codes(model, len(batch), 2, batch.shape[2], batch_heights, seed=0)  # trace
    anomaly.restore_with_prior(model, batch[:, :2], threshold, 0, slice_heights=batch_heights)
    start = time.perf_counter()
    prior.sample_codes(model, len(batch), *batch.shape[1:], batch_heights, seed=1)
    sample_seconds = time.perf_counter() - start
    start = time.perf_counter()
    anomaly.restore_with_prior(model, batch, threshold, 1, slice_heights=batch_heights)
    restore_seconds = time.perf_counter() - start
    prior.prior_logits(model, batch, batch_heights)
    start = time.perf_counter()
    prior.prior_logits(model, batch, batch_heights)
    full_pass_seconds = time.perf_counter() - start

    report = {
        "run_dir": str(run_dir),
        "slices": len(codes),
        "lesion_slices": int(masks.any(axis=(1, 2)).sum()),
        "restorations": arguments.restorations,
        "restoration_quantile": anomaly.DEFAULT_RESTORATION_QUANTILE,
        "lesions": lesion_options,
        "baselines": baselines,
        "diagnostics": diagnostics,
        "variants": results,
        "speed_16_grids": {
            "sample_seconds": sample_seconds,
            "restore_seconds": restore_seconds,
            "full_pass_seconds": full_pass_seconds,
        },
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    out = runs.write_json(arguments.out, report)
    print(json.dumps(report["speed_16_grids"]), f"wrote {out}")


if __name__ == "__main__":
    main()
