"""Code-grid resolution: reconstruction against anomaly detection (issue 9, item 6).

A VQ-VAE with ``downsample = F`` turns a 256x256 slice into a ``256/F x 256/F`` grid of
codes. A fine grid (F = 4, 64x64, the series' default) reconstructs fine anatomy, and
also copies a small lesion; a coarse one (F = 8, 32x32) cannot copy what it has not
seen, but blurs the anatomy. This script runs notebooks 03, 04 and 05 headless (as
``make run`` does, default settings otherwise) for each ``F`` in its own run folder
and collects, per ``F``: notebook 03's test SSIM, brain SSIM and PSNR; notebook 04's
bits per code and Fréchet distance; notebook 05's pixel AUROC, AUPRC, best Dice and
slice AUROC of each method. Notebook 05's table of the trade-off reads the JSON.

    .venv/bin/python benchmarks/grid_resolution.py --work-dir /tmp/grid \\
        --reuse 4=runs/demo --out benchmarks/results/grid_resolution_demo.json

``--reuse F=RUN_DIR`` takes the metrics of an existing run (e.g. ``make run``'s
``runs/demo`` for the default F = 4) instead of running the notebooks again.
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

from oasis_helpers import anomaly, runs, series  # noqa: E402

#: Notebooks run for each resolution (01 and 02 produce nothing that 03-05 read).
NOTEBOOKS = ("03_train_vqvae", "04_pixelcnn_prior", "05_anomaly_detection")
RECONSTRUCTION_KEYS = ("ssim_test", "ssim_brain_test", "psnr_test", "code_perplexity_test")
PRIOR_KEYS = ("nll_bits_per_code_test", "context_bits_per_code", "frechet_prior")


def _read_metrics(run_dir: Path, stem: str) -> dict:
    path = run_dir / stem / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: notebook {stem} did not finish in {run_dir}")
    return json.loads(path.read_text())


def collect(run_dir: Path, downsample: int) -> dict:
    """One row of the table: the metrics of notebooks 03-05 in ``run_dir``."""
    vqvae = _read_metrics(run_dir, NOTEBOOKS[0])
    if vqvae.get("downsample") != downsample:
        raise ValueError(
            f"{run_dir} holds a VQ-VAE with downsample {vqvae.get('downsample')}, not {downsample}"
        )
    prior_metrics = _read_metrics(run_dir, NOTEBOOKS[1])
    detection = _read_metrics(run_dir, NOTEBOOKS[2])
    row = {"downsample": downsample, "run_dir": str(run_dir)}
    row.update({key: vqvae[key] for key in RECONSTRUCTION_KEYS})
    row.update({key: prior_metrics[key] for key in PRIOR_KEYS})
    row["methods"] = {
        method: {key: detection[method][key] for key in anomaly.METRIC_KEYS}
        for method in anomaly.METHODS
    }
    row["num_slices"] = detection["num_slices"]
    row["source"] = detection["source"]
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downsamples", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--work-dir", default="/tmp/grid_resolution")
    parser.add_argument("--reuse", nargs="*", default=[], help="F=RUN_DIR pairs")
    parser.add_argument("--kernel", default=series.DEFAULT_KERNEL)
    parser.add_argument("--out", default="benchmarks/results/grid_resolution.json")
    args = parser.parse_args(argv)
    reuse = {}
    for pair in args.reuse:
        factor, _, folder = pair.partition("=")
        reuse[int(factor)] = Path(folder)
    notebooks = {path.stem: path for path in series.notebook_paths()}
    rows, seconds = [], {}
    for downsample in args.downsamples:
        run_dir = reuse.get(downsample)
        if run_dir is None:
            run_dir = Path(args.work_dir) / f"downsample_{downsample}"
            start = time.perf_counter()
            for stem in NOTEBOOKS:
                parameters = {"downsample": downsample} if stem == NOTEBOOKS[0] else {}
                print(f"downsample {downsample}: running {stem}", flush=True)
                series.run_notebook(
                    notebooks[stem], run_dir, parameters, kernel_name=args.kernel, echo=sys.stdout
                )
            seconds[downsample] = time.perf_counter() - start
        row = collect(run_dir, downsample)
        row["seconds_03_to_05"] = seconds.get(downsample)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {
        "what": "notebooks 03-05 (default settings) per VQ-VAE downsample factor",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
        "command": "python benchmarks/grid_resolution.py " + " ".join(argv or sys.argv[1:]),
        "rows": rows,
    }
    out = runs.write_json(args.out, report)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
