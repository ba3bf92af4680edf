"""Anomaly benchmark: variants of prior-guided restoration against the residual, on
validation slices with synthetic lesions (never the test slices), and restoration speed.

Reads notebook 03's VQ-VAE and codes and notebook 04's prior from ``--run-dir``. The
validation slices get synthetic lesions (``anomaly.synthesize_lesions``, seed
``seed + 1`` as in notebook 05); the restoration threshold is a quantile of the prior's
probabilities of the *healthy* validation brain codes. For each variant it records the
pixel AUROC and best Dice of the restoration map after 1..R restorations, beside the
reconstruction residual and the likelihood map, and the share of codes resampled:

* ``quantile``: the threshold's quantile;
* ``region``: ``dilation d`` (brain codes within ``d`` codes of what one prior pass
  flags, ``anomaly.restoration_region``), ``brain`` (any brain code) or ``grid`` (any
  code of the grid: no confinement);
* ``map``: ``input`` (``|G * (x - x_healed)|``, the issue's map with the default
  smoothing of the signed difference, ``anomaly.DEFAULT_DIFFERENCE_SMOOTHING``),
  ``input sigma S`` (the same with Gaussian ``sigma = S`` pixels; 0 is the plain
  ``|x - x_healed|``), ``reconstruction`` (``|G * (x_hat - x_healed)|``, which removes the
  reconstruction error common to both) and ``flagged`` (``|G * (x - x_healed)|`` only in
  the blocks of resampled codes).

The residual baseline is likewise recorded for each ``sigma`` in :data:`SIGMAS`.

Diagnostics (they use the lesion masks, so they are bounds, not detectors):

* ``code_auroc``: how well the prior's surprise ``-log p(z_ij | z_<ij)`` of one pass (and
  its 3x3 box mean) separates the brain codes that a lesion covers for at least a quarter
  from the other brain codes;
* ``oracle_region``: the restoration map when every brain code within one code of a
  lesion is resampled (threshold 1): what restoration would score if the prior flagged
  exactly the lesions' codes.

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

from oasis_helpers import anomaly, data, models, prior, runs  # noqa: E402

#: Gaussian ``sigma`` (pixels) of the signed differences compared beside the default.
SIGMAS = tuple(sorted({0.0, anomaly.DEFAULT_DIFFERENCE_SMOOTHING, 2.0}))
#: The key of the default sigma's residual (``baselines["reconstruction"]`` repeats it).
DEFAULT_SIGMA_KEY = str(float(anomaly.DEFAULT_DIFFERENCE_SMOOTHING))

VARIANTS = [  # (quantile, region)
    (0.01, "dilation 1"),
    (0.03, "dilation 1"),
    (0.1, "dilation 1"),
    (0.03, "dilation 0"),
    (0.03, "dilation 2"),
    (0.03, "brain"),
    (0.01, "grid"),
]


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
    nll_bits,
    smoothed_nll,
    brain_codes,
    lesion_codes,
    positions,
    arguments,
) -> dict:
    from sklearn.metrics import roc_auc_score

    factor = images.shape[1] // codes.shape[1]
    covered = masks.reshape(len(masks), codes.shape[1], factor, codes.shape[2], factor)
    lesion_labels = (covered.mean(axis=(2, 4)) >= 0.25)[brain_codes]
    oracle = ndimage.binary_dilation(lesion_codes, np.ones((1, 3, 3), bool)) & brain_codes
    restoration = anomaly.restore_repeatedly(
        codes,
        functools.partial(anomaly.restore_with_prior, model, positions=positions, region=oracle),
        1.0,
        arguments.restorations,
        seed=arguments.seed,
    )
    healed = np.stack([vqvae.decode(grids_) for grids_ in restoration.codes])
    return {
        "code_auroc": {
            "nll": float(roc_auc_score(lesion_labels, nll_bits[brain_codes])),
            "nll_box_mean": float(roc_auc_score(lesion_labels, smoothed_nll[brain_codes])),
            "lesion_codes": int(lesion_labels.sum()),
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
    parser.add_argument("--out", default="benchmarks/results/anomaly_demo.json")
    arguments = parser.parse_args()

    run_dir = runs.resolve_run_dir(arguments.run_dir)
    grids = models.load_codes(run_dir)
    vqvae = models.load_vqvae(runs.require_artifact(run_dir, "03_train_vqvae", "vqvae.keras"))
    model = prior.load_prior(
        runs.require_artifact(run_dir, "04_pixelcnn_prior", "prior.keras"), compile=False
    )
    source = data.load_slices(
        arguments.data_dir, image_size=grids.image_size, seed=arguments.seed, with_masks=False
    )
    split = source.splits["validate"]
    indices = np.unique(np.linspace(0, len(split) - 1, min(arguments.slices, len(split))))
    indices = indices.astype(int)
    healthy = split.float_images(indices)
    positions = grids["validate"].positions[indices] if model.conditional else None
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
    healthy_probabilities = 2.0 ** -prior.nll_map_bits(model, healthy_codes, positions)
    healthy_brain = anomaly.code_region(
        anomaly.brain_region(healthy, erosion=0), healthy_codes.shape[1:]
    )

    region = anomaly.brain_region(images)
    reconstructions = vqvae.reconstruct(images)
    codes = vqvae.encode(images)
    nll_bits = prior.nll_map_bits(model, codes, positions)
    brain_codes = anomaly.code_region(anomaly.brain_region(images, erosion=0), codes.shape[1:])
    lesion_codes = anomaly.code_region(masks, codes.shape[1:])
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
    diagnostics = _diagnostics(
        vqvae,
        model,
        images,
        masks,
        region,
        codes,
        nll_bits,
        smoothed_nll,
        brain_codes,
        lesion_codes,
        positions,
        arguments,
    )
    print("diagnostics", diagnostics, flush=True)
    factor = images.shape[1] // codes.shape[1]
    results = []
    for quantile, where in [] if arguments.skip_variants else VARIANTS:
        threshold = anomaly.choose_restoration_threshold(
            healthy_probabilities[healthy_brain], quantile
        )
        if where == "grid":
            changeable = None
        elif where == "brain":
            changeable = brain_codes
        else:
            dilation = int(where.split()[1])
            changeable = anomaly.restoration_region(
                2.0**-nll_bits, threshold, brain_codes, dilation
            )
        start = time.perf_counter()
        restoration = anomaly.restore_repeatedly(
            codes,
            functools.partial(
                anomaly.restore_with_prior, model, positions=positions, region=changeable
            ),
            threshold,
            arguments.restorations,
            seed=arguments.seed,
        )
        seconds = time.perf_counter() - start
        healed = np.stack([vqvae.decode(grids_) for grids_ in restoration.codes])
        flagged_pixels = np.repeat(
            np.repeat(restoration.flagged, factor, axis=2), factor, axis=3
        ).astype(np.float32)
        row = {
            "quantile": quantile,
            "threshold": threshold,
            "region": where,
            "resampled": float(restoration.flagged.mean()),
            "resampled_lesion_codes": float(restoration.flagged[:, lesion_codes].mean()),
            "resampled_other_codes": float(restoration.flagged[:, ~lesion_codes].mean()),
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
    batch_positions = None if positions is None else positions[:16]
    threshold = anomaly.choose_restoration_threshold(healthy_probabilities[healthy_brain], 0.01)
    prior.sample_codes(model, len(batch), 2, batch.shape[2], batch_positions, seed=0)  # trace
    anomaly.restore_with_prior(model, batch[:, :2], threshold, 0, positions=batch_positions)
    start = time.perf_counter()
    prior.sample_codes(model, len(batch), *batch.shape[1:], batch_positions, seed=1)
    sample_seconds = time.perf_counter() - start
    start = time.perf_counter()
    anomaly.restore_with_prior(model, batch, threshold, 1, positions=batch_positions)
    restore_seconds = time.perf_counter() - start
    prior.prior_logits(model, batch, batch_positions)
    start = time.perf_counter()
    prior.prior_logits(model, batch, batch_positions)
    full_pass_seconds = time.perf_counter() - start

    report = {
        "run_dir": str(run_dir),
        "slices": len(codes),
        "lesion_slices": int(masks.any(axis=(1, 2)).sum()),
        "restorations": arguments.restorations,
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
