"""Peak memory of notebooks 01-03 on a folder of the full-size OASIS PNG layout.

Requirement (issue 7, item 7): each of notebooks 01, 02 and 03 peaks below 4 GiB
when run headless on ``keras_png_slices_data`` with all 11,328 slices
(9,664 / 1,120 / 544 slices of 256 x 256 8-bit PNGs, with seg masks).

The script writes such a folder with synthetic brain phantoms (the real counts,
sizes and file names; ``tests/oasis_fixtures.py``), or uses ``--data-dir`` (e.g.
the real archive), then runs each notebook with papermill
(:func:`oasis_helpers.series.run_notebook`) on it. Training is kept short (the
data, not the number of steps, sets the memory); everything else runs as in a
full run. A thread reads the kernel process's peak resident set size
(``VmHWM`` in ``/proc/<pid>/status``, the high-water mark the operating system
keeps; psutil's RSS where ``/proc`` is missing) every 0.2 s until the notebook
ends, and the result is written as JSON::

    .venv/bin/python benchmarks/memory.py                        # notebooks 01 02 03
    .venv/bin/python benchmarks/memory.py --notebooks 01 02 --data-dir /data/keras_png_slices_data

Output: ``benchmarks/results/memory_full_layout.json`` (``--out``): per notebook
the peak in MiB, whether it is below the limit, its run time and parameters, and
the cells with the highest resident memory while they ran (papermill's cell
times against the sampled timeline), plus the command, the data folder and the
machine (CPU cores, RAM). The synthetic folder takes about 180 MB and a minute
to write; it stays in ``--work-dir`` (or the temporary folder) and is reused
when the script runs again with the same ``--work-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SPLITS = ("train", "validate", "test")

#: The requirement: every notebook peaks below this (MiB).
LIMIT_MIB = 4096

#: Parameters per notebook that keep training short; data and image size stay as in a full run.
SHORT_TRAINING = {
    "01": {},
    "02": {"steps": 30, "sweep_steps": 20},
    "03": {
        "epochs": 1,
        "steps_per_epoch": 5,
        "max_train_minutes": None,
        "validation_slices": 96,
        "resume": False,
    },
}


def _peak_kib(pid: int) -> int | None:
    """The process's peak resident set size (KiB) so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss // 1024
    except Exception:  # noqa: BLE001 - psutil missing or the process ended
        return None


def _kernel_pids() -> list[int]:
    """Process ids of the ipykernel children of this process."""
    import psutil

    kernels = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                kernels.append(child.pid)
        except psutil.Error:
            continue
    return kernels


def _resident_kib(pid: int) -> int | None:
    """The process's resident set size now (KiB), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakWatcher(threading.Thread):
    """Polls the peak memory of every kernel started while it runs.

    Keeps each kernel's high-water mark and a timeline of ``(time, resident KiB)``
    samples, from which :func:`cell_peaks` attributes memory to the notebook's cells.
    """

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks_kib: dict[int, int] = {}
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for pid in _kernel_pids():
                peak = _peak_kib(pid)
                if peak is not None:
                    self.peaks_kib[pid] = max(peak, self.peaks_kib.get(pid, 0))
                resident = _resident_kib(pid)
                if resident is not None:
                    self.samples.append((time.time(), resident))
            self.stopping.wait(self.interval)

    def stop(self) -> int:
        """Stop polling; return the highest peak seen (KiB)."""
        self.stopping.set()
        self.join()
        return max(self.peaks_kib.values(), default=0)


def cell_peaks(executed: Path, samples: list[tuple[float, int]], top: int = 5) -> list[dict]:
    """The ``top`` code cells with the highest resident memory sampled while they ran.

    Cell start and end times come from papermill's metadata in the executed notebook.
    """
    from datetime import UTC, datetime

    def seconds(text: str) -> float:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:  # papermill writes UTC times
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()

    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return []
    rows = []
    for index, cell in enumerate(cells):
        timing = cell.get("metadata", {}).get("papermill", {})
        if cell.get("cell_type") != "code" or not timing.get("start_time"):
            continue
        begin = seconds(timing["start_time"])
        end = seconds(timing["end_time"]) if timing.get("end_time") else float("inf")
        inside = [kib for moment, kib in samples if begin <= moment <= end + 0.2]
        if inside:
            source = "".join(cell.get("source", "")).strip().splitlines()
            rows.append(
                {
                    "cell": index,
                    "first_line": source[0][:80] if source else "",
                    "resident_mib": round(max(inside) / 1024, 1),
                }
            )
    return sorted(rows, key=lambda row: -row["resident_mib"])[:top]


def machine() -> dict:
    import psutil

    return {
        "cpu_cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--notebooks", nargs="+", default=["01", "02", "03"], help="notebook numbers to run"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="a keras_png_slices_data folder to use (default: write a synthetic one)",
    )
    parser.add_argument(
        "--work-dir",
        default=None,
        help="where the synthetic folder and the runs go (default: a temporary folder); "
        "a synthetic folder already there is reused",
    )
    parser.add_argument(
        "--counts",
        nargs=3,
        type=int,
        metavar=("TRAIN", "VALIDATE", "TEST"),
        default=[9_664, 1_120, 544],
        help="slices per split of the synthetic folder (default: the real archive's)",
    )
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "memory_full_layout.json")
    )
    args = parser.parse_args(argv)

    from oasis_helpers import series

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="oasis-memory-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.data_dir:
        data_dir = Path(args.data_dir).expanduser().resolve()
        written_seconds = None
    else:
        import oasis_fixtures

        begin = time.perf_counter()
        print(f"writing the full-size PNG layout under {work} ...", flush=True)
        counts = dict(zip(SPLITS, args.counts, strict=True))
        data_dir = oasis_fixtures.write_full_size_png_layout(work, counts=counts)
        written_seconds = round(time.perf_counter() - begin, 1)
        print(f"  ready in {written_seconds} s: {data_dir}", flush=True)

    series.ensure_kernel()
    notebooks = {path.stem[:2]: path for path in series.notebook_paths()}
    results = {}
    for number in args.notebooks:
        number = number.zfill(2)
        if number not in notebooks:
            parser.error(f"no notebook {number}; have {sorted(notebooks)}")
        notebook = notebooks[number]
        parameters = {"data_dir": str(data_dir), **SHORT_TRAINING.get(number, {})}
        print(f"running {notebook.name} with {parameters}", flush=True)
        watcher = PeakWatcher()
        watcher.start()
        begin = time.perf_counter()
        error = None
        executed = work / "runs" / notebook.stem / notebook.name
        try:
            series.run_notebook(notebook, work / "runs", parameters)
        except Exception as failure:  # noqa: BLE001 - recorded in the JSON, then the next one
            error = f"{type(failure).__name__}: {str(failure)[-2000:]}"
        peak_mib = round(watcher.stop() / 1024, 1)
        seconds = round(time.perf_counter() - begin, 1)
        results[notebook.stem] = {
            "peak_mib": peak_mib,
            "below_limit": bool(error is None and 0 < peak_mib < LIMIT_MIB),
            "seconds": seconds,
            "parameters": parameters,
            "error": error,
            "cells_with_most_memory": cell_peaks(executed, watcher.samples),
        }
        state = f"FAILED ({error.splitlines()[0][:200]})" if error else "ok"
        print(f"  peak {peak_mib:.0f} MiB in {seconds:.0f} s: {state}", flush=True)

    report = {
        "what": "peak resident memory (VmHWM) of the notebook kernel, full-size PNG layout",
        "limit_mib": LIMIT_MIB,
        "data_dir": str(data_dir),
        "synthetic_data": args.data_dir is None,
        "slices": None if args.data_dir else dict(zip(SPLITS, args.counts, strict=True)),
        "layout_written_seconds": written_seconds,
        "notebooks": results,
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all(entry["below_limit"] for entry in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
