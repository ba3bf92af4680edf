"""Does notebook 05's state slow its blind-spot training? Seconds per epoch with and without it.

Each measurement is a fresh process that first executes notebook 05's code cells either
not at all (``imports``) or all of those before the one that trains the blind-spot model
(``notebook_state``: the VQ-VAE and prior loaded, slices loaded, lesions synthesised,
slices encoded and scored by the prior), and then trains a new blind-spot model with the
default settings for ``--epochs`` epochs on notebook 03's training codes, timing each
epoch in wall-clock and in process CPU seconds. CPU seconds are what to compare on a
machine that is busy with other work (wall-clock time then depends on the neighbours).
The kernel set is the environment's (set ``TF_ENABLE_ONEDNN_OPTS`` to choose it).

Usage::

    .venv/bin/python benchmarks/blind_spot_state.py --run-dir runs/demo --repeats 2 \\
        --out benchmarks/results/blind_spot_state.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOTEBOOK = ROOT / "notebooks" / "05_anomaly_detection.ipynb"
#: The code cell that trains the blind-spot model is the first that contains this text.
TRAINING_CALL = "blind_spot.train_or_load("
STATES = ("imports", "notebook_state")


def cells_before_training(notebook: Path) -> list[str]:
    """The sources of the notebook's code cells before the blind-spot training cell."""
    cells = json.loads(notebook.read_text())["cells"]
    sources = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if TRAINING_CALL in source:
            return sources
        sources.append(source)
    raise ValueError(f"{notebook} has no cell that calls {TRAINING_CALL}")


def measure(run_dir: Path, state: str, epochs: int) -> dict:
    """Run in this process: replay the state, then train and time each epoch."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {}
    sources = cells_before_training(NOTEBOOK)
    if state == "imports":
        sources = sources[:1]
    for index, source in enumerate(sources):
        if "run_dir =" in source and "interactive =" in source:  # the parameters cell
            source += f"\nrun_dir = {str(run_dir)!r}\ninteractive = False\n"
        exec(compile(source, f"notebook 05 code cell {index}", "exec"), namespace)

    import keras

    from oasis_helpers import blind_spot, code_grids

    grids = code_grids.load_codes(run_dir)
    train = grids["train"]
    keras.utils.set_random_seed(42)
    model = blind_spot.make_blind_spot_model(grids.num_embeddings, train.codes.shape[1])
    epochs_timed = []
    for _ in range(epochs):  # one fit call per epoch; the first also traces the step
        wall, cpu = time.perf_counter(), time.process_time()
        blind_spot.train_blind_spot_model(
            model, train.codes, train.slice_heights, epochs=1, verbose=0
        )
        epochs_timed.append(
            {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
        )
    return {"state": state, "cells_replayed": len(sources), "epochs": epochs_timed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a run with notebooks 03, 04")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    default_out = Path("benchmarks/results/blind_spot_state.json")
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--child", choices=STATES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if args.child:
        print(json.dumps(measure(run_dir, args.child, args.epochs)))
        return 0
    from oasis_helpers import runs

    results = []
    for repeat in range(args.repeats):
        for state in STATES:
            command = [sys.executable, __file__, "--run-dir", str(run_dir), "--child", state]
            command += ["--epochs", str(args.epochs)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results.append({"repeat": repeat, **json.loads(output.strip().splitlines()[-1])})
            print(json.dumps(results[-1]), flush=True)
    summary = {}
    for state in STATES:
        # the first epoch includes tracing: compare the later ones
        later = [e["cpu_seconds"] for r in results if r["state"] == state for e in r["epochs"][1:]]
        summary[state] = {"cpu_seconds_per_epoch_after_the_first": later}
    report = {
        "run_dir": str(args.run_dir),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "results": results,
        "summary": summary,
    }
    runs.write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
