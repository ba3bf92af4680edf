"""The files of a run folder: their names, the training state, the history read back from
the CSV log, and clearing a run to start it over.

:func:`~oasis_helpers.training.fitting.fit` writes, into ``run_dir``::

    run_dir/
        run_config.json         the run's configuration: the model's get_config() and the
                                caller's data/training settings
                                (:mod:`~oasis_helpers.training.configuration`)
        backup/epoch-0000N/     weights + optimizer state after finished epoch N (the
                                newest two are kept; each appears by one atomic rename)
        last.keras              the whole model after the last finished epoch
        best.keras              the model with the lowest validation loss so far
        training_log.csv        one row per finished epoch (over all calls)
        tensorboard/            keras.callbacks.TensorBoard (when installed)
        training_state.json     epochs completed, why training stopped, seconds and
                                images trained (over all calls)

Every file is written to a temporary name and renamed, so a process killed at any
moment (SIGKILL, power cut of the kernel) leaves the previous version complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from oasis_helpers.callbacks import finite, read_log_rows
from oasis_helpers.runs import write_atomically

#: The files and folders of a run folder (the tree above).
RUN_CONFIG = "run_config.json"
CONFIG_FILE = "config.json"
BACKUP_DIR = "backup"
LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
CSV_LOG = "training_log.csv"
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = "training_state.json"


def read_history(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """The CSV training log of ``run_dir`` as ``{column: [value per epoch]}``.

    Rows are keyed by ``epoch``; a row repeated by an interrupted-and-resumed run
    is taken from its latest occurrence. Empty when no log exists.
    """
    rows = read_log_rows(Path(run_dir) / CSV_LOG)
    history: dict[str, list[float]] = {}
    columns = sorted({key for row in rows.values() for key in row})
    for epoch in sorted(rows):
        for column in columns:
            history.setdefault(column, []).append(_to_float(rows[epoch].get(column)))
    return history


def _to_float(text: str | None) -> float:
    """A CSV cell as float; empty or ``NA`` (a missing value) as NaN."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def read_state(run_dir: Path) -> dict[str, Any]:
    """The run's ``training_state.json`` (``{}`` before its first epoch)."""
    path = run_dir / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); delete it or call fit(..., resume=False)"
        ) from error


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write ``training_state.json`` atomically."""
    write_atomically(run_dir / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def clear_run(run_dir: Path) -> None:
    """Delete what :func:`~oasis_helpers.training.fitting.fit` wrote in ``run_dir`` (not
    ``config.json``, which :func:`~oasis_helpers.training.config_run_dir` writes)."""
    for name in (BACKUP_DIR, TENSORBOARD_DIR):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (RUN_CONFIG, LAST_MODEL, BEST_MODEL, CSV_LOG, STATE_FILE):
        (run_dir / name).unlink(missing_ok=True)


def best_so_far(history: dict[str, list[float]], monitor: str) -> float | None:
    """The lowest finite value of ``history[monitor]``, or None (none yet)."""
    values = [value for value in history.get(monitor, []) if finite(value)]
    return min(values) if values else None
