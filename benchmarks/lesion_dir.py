"""Notebook 05 on ``lesion_dir`` folders, as a user would run it: two kinds of lesions.

Writes two ``lesion_dir`` folders of 48 slices of the unseen test subjects as PNG files
(``images/`` and ``masks/``, the layout of ``data.LESION_DIR_LAYOUT``):

* ``synthesiser``: the series' own lesions (``anomaly.synthesize_lesions``, seed 7,
  80 % of the slices), on every other test slice from the first;
* ``ellipses``: another generator, so that the thresholds (chosen on the series'
  synthetic lesions) meet lesions they were not chosen on: hard-edged ellipses with
  semi-axes of 3-16 pixels, *set* to a constant bright (0.85-1.0) or dark (0.05-0.3)
  value rather than added, inside the brain eroded by 8 pixels, on 80 % of every other
  test slice from the second (seed 11).

Then it copies ``--run-dir`` (notebooks 03-05's artefacts, the saved blind-spot model
included, so nothing is retrained) and runs notebook 05 on each folder with papermill
(``series.run_notebook``), and writes each method's metrics to ``--out``.

    .venv/bin/python benchmarks/lesion_dir.py --run-dir runs/demo \\
        --work-dir /tmp/lesion_dir --out benchmarks/results/lesion_dir_demo.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from oasis_helpers import anomaly, runs, series

SLICES = 48


def _write(folder: Path, images: np.ndarray, masks: np.ndarray) -> None:
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for index, (image, mask) in enumerate(zip(images, masks, strict=True)):
        name = f"slice_{index:03d}.png"
        pixels = np.round(np.clip(image.reshape(image.shape[:2]), 0, 1) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / "images" / name)
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "masks" / name)


def _ellipses(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images = images[..., 0].copy()
    rng = np.random.default_rng(seed)
    masks = np.zeros(images.shape, bool)
    rows, cols = np.mgrid[: images.shape[1], : images.shape[2]]
    for index, image in enumerate(images):
        if rng.random() < 0.2:
            continue
        brain = ndimage.binary_erosion(image > 0.1, iterations=8)
        candidates = np.argwhere(brain)
        if not len(candidates):
            continue
        row, col = candidates[rng.integers(len(candidates))]
        axis_a, axis_b, angle = rng.uniform(3, 16), rng.uniform(3, 16), rng.uniform(0, np.pi)
        along = (cols - col) * np.cos(angle) + (rows - row) * np.sin(angle)
        across = -(cols - col) * np.sin(angle) + (rows - row) * np.cos(angle)
        blob = ((along / axis_a) ** 2 + (across / axis_b) ** 2 <= 1) & brain
        value = rng.choice([rng.uniform(0.85, 1.0), rng.uniform(0.05, 0.3)])
        masks[index] = blob & (np.abs(image - value) > 1 / 255)  # what visibly changed
        image[blob] = value
    return images[..., None], masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo")
    parser.add_argument("--work-dir", default="/tmp/lesion_dir")
    parser.add_argument("--out", default="benchmarks/results/lesion_dir_demo.json")
    arguments = parser.parse_args()

    run_dir = runs.resolve_run_dir(arguments.run_dir)
    work = Path(arguments.work_dir)
    # the run's slices, as notebook 05 (run below with its defaults) reads them: checks first
    # that the run holds notebooks 03 and 04's models and that they match these slices
    source = runs.load_series(run_dir, "05", data_dir=None, seed=42, image_size=256).source
    test = source.splits["test"]
    first = test.float_images(np.arange(0, len(test), 2)[:SLICES])
    second = test.float_images(np.arange(1, len(test), 2)[:SLICES])
    folders = {
        "synthesiser": anomaly.synthesize_lesions(first, seed=7, lesion_fraction=0.8),
        "ellipses": _ellipses(second, seed=11),
    }
    report = {"run_dir": str(run_dir), "machine": platform.platform(), "folders": {}}
    for name, (images, masks) in folders.items():
        folder = work / name
        shutil.rmtree(folder, ignore_errors=True)
        _write(folder, images, masks)
        copy = work / f"run_{name}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run_dir, copy)
        start = time.perf_counter()
        series.run_notebook(
            runs.project_root() / "notebooks" / "05_anomaly_detection.ipynb",
            copy,
            {"lesion_dir": str(folder)},
        )
        metrics = runs.read_metrics(copy, "05_anomaly_detection")
        report["folders"][name] = {
            "slices": len(images),
            "lesion_slices": int(masks.any(axis=(1, 2)).sum()),
            "lesion_pixel_share": float(masks.mean()),
            "seconds": time.perf_counter() - start,
            **{method: metrics[method] for method in anomaly.METHODS},
            "flag_quantile": metrics.get("flag_quantile"),
            "num_restorations": metrics.get("num_restorations"),
        }
        print(name, json.dumps({m: metrics[m]["auroc_pixel"] for m in anomaly.METHODS}), flush=True)
    print(f"wrote {runs.write_json(arguments.out, report)}")


if __name__ == "__main__":
    main()
