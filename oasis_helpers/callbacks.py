"""The Keras callbacks behind :func:`oasis_helpers.training.fit`.

Each callback does one job:

* :class:`EpochRecord` decides whether the epoch that just ended is a *finished*
  epoch: all its steps ran (a time budget, a NaN or a shared stop decision can
  end an epoch early, and Keras still calls ``on_epoch_end`` for it) and its
  losses are finite. Everything that records an epoch on disk asks it first, so
  a partial or diverged epoch is never recorded as done.
* :class:`EpochBackup` keeps the last two finished epochs' weights and optimizer
  state (``backup/epoch-00003/model.weights.h5``); :class:`FinishedEpochCheckpoint`
  writes ``last.keras`` / ``best.keras``; :class:`EpochLog` writes the CSV log.
  All three write a temporary file or folder first and then rename it
  (``os.replace`` / ``os.rename`` are atomic; files written whole go through
  :func:`oasis_helpers.runs.write_atomically`), so a process killed at any moment,
  even in the middle of a write, leaves the previous file complete.
* :class:`NaNGuard` stops at the first non-finite loss and remembers where;
  :class:`TimeBudget` stops within a wall-clock budget; :class:`CosineSchedule`
  sets the learning rate before every step; :class:`LogLearningRate` and
  :class:`ImageCounter` log the rate and count steps.

Why not ``keras.callbacks.BackupAndRestore(double_checkpoint=True)``: Keras 3.15
writes the weights file and then its JSON metadata in place, one after the other. A
kill between the two leaves the weights of epoch N+1 beside metadata that says N
(the resumed run silently trains an epoch twice), and a kill during the JSON write
leaves a file whose ``JSONDecodeError`` its fallback (which catches only
``OSError``) does not handle. Here the epoch count is the name of a folder that
appears by one atomic rename, together with its weights.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from oasis_helpers.runs import sync_to_disk, write_atomically

__all__ = [
    "CosineSchedule",
    "EpochBackup",
    "EpochLog",
    "EpochRecord",
    "FinishedEpochCheckpoint",
    "NaNGuard",
    "TimeBudget",
    "backup_epochs",
    "finite",
    "read_log_rows",
    "restore_backup",
    "trim_log",
    "write_log_rows",
]

#: File name of the weights (model and optimizer variables) inside a backup folder.
BACKUP_WEIGHTS = "model.weights.h5"
_EPOCH_FOLDER = "epoch-{:05d}"
_PARTIAL_PREFIX = ".partial-"


def finite(value) -> bool:
    """``True`` unless ``value`` is a number that is NaN or infinite."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def _losses_finite(logs) -> bool:
    return all(finite(value) for key, value in (logs or {}).items() if "loss" in key)


# ---------------------------------------------------------------------------------------------
# Which epochs count
# ---------------------------------------------------------------------------------------------
class EpochRecord(keras.callbacks.Callback):
    """Tells the recording callbacks whether the epoch that just ended is finished.

    An epoch is *finished* when all its steps ran and its losses are finite. With
    a known number of steps per epoch (``steps_per_epoch`` or a dataset of known
    length) that is a count; otherwise the epoch is finished when the data ran out
    rather than a callback setting ``model.stop_training`` during a step.

    Put it first in the callback list: its ``on_epoch_end`` must run before the
    others read :attr:`finished` (and before an epoch-end stop decision).

    Attributes:
        finished: whether the last epoch that ended is finished.
        steps_done: steps run in the current (or last) epoch.
        partial_epochs: how many epochs ended early in this ``fit`` call.
    """

    def __init__(self):
        super().__init__()
        self.finished = True
        self.steps_done = 0
        self.partial_epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.steps_done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done = int(batch) + 1

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") if self.params else None
        if steps:
            complete = self.steps_done >= int(steps)
        else:
            complete = not self.model.stop_training
        self.finished = complete and _losses_finite(logs)
        if not complete:
            self.partial_epochs += 1


def _finished(record: EpochRecord | None, logs) -> bool:
    return record.finished if record is not None else _losses_finite(logs)


# ---------------------------------------------------------------------------------------------
# Backups
# ---------------------------------------------------------------------------------------------
def backup_epochs(backup_dir: str | os.PathLike) -> list[int]:
    """The finished-epoch counts that ``backup_dir`` holds complete backups of, ascending."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    epochs = []
    for folder in backup_dir.iterdir():
        name = folder.name
        if name.startswith("epoch-") and name[6:].isdigit() and folder.is_dir():
            epochs.append(int(name[6:]))
    return sorted(epochs)


def restore_backup(model: keras.Model, backup_dir: str | os.PathLike) -> int:
    """Load the newest readable backup of ``backup_dir`` into ``model``; return its epoch.

    The newest backup is tried first; if it cannot be read (a disk error), the one
    before it is used, with a warning. Returns 0 (and changes nothing) when there
    is no backup.

    Raises:
        OSError: backups exist but none of them can be read.
    """
    backup_dir = Path(backup_dir)
    epochs = backup_epochs(backup_dir)
    if not epochs:
        return 0
    if model.optimizer is not None and not model.optimizer.built:
        # optimizer variables of a distributed model must be created in its strategy's scope
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)
    errors = []
    for epoch in reversed(epochs):
        path = backup_dir / _EPOCH_FOLDER.format(epoch) / BACKUP_WEIGHTS
        try:
            model.load_weights(str(path))
        except (OSError, ValueError, KeyError) as error:
            errors.append(f"{path}: {error}")
            continue
        if errors:
            warnings.warn(
                f"could not read the newest backup ({'; '.join(errors)}); resumed from the "
                f"backup of epoch {epoch} instead",
                stacklevel=2,
            )
        return epoch
    raise OSError(
        f"none of the backups in {backup_dir} can be read ({'; '.join(errors)}); delete the "
        f"run folder or call fit(..., resume=False) to start over"
    )


class EpochBackup(keras.callbacks.Callback):
    """Back up weights and optimizer state after every finished epoch, safe against kills.

    After finished epoch ``n`` (counting from 1) the model's weights, which include
    the optimizer's variables (its step counter too), are written into
    ``backup_dir/.partial-epoch-0000n/`` and the folder is then renamed to
    ``backup_dir/epoch-0000n/``. A folder named ``epoch-*`` is therefore always
    complete; the newest ``keep`` of them are kept (two by default: the second is
    the fallback should the newest be unreadable), older ones are deleted.

    Restoring is :func:`restore_backup` (``training.fit`` does it before
    ``model.fit``, passing the restored epoch as ``initial_epoch``).
    """

    def __init__(
        self, backup_dir: str | os.PathLike, record: EpochRecord | None = None, keep: int = 2
    ):
        super().__init__()
        if int(keep) < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.backup_dir = Path(backup_dir)
        self.record = record
        self.keep = int(keep)

    def on_epoch_end(self, epoch, logs=None):
        if _finished(self.record, logs):
            self.save(epoch + 1)

    def save(self, epochs_done: int) -> Path:
        """Write the backup of ``epochs_done`` finished epochs; return its folder."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = _EPOCH_FOLDER.format(int(epochs_done))
        final = self.backup_dir / name
        partial = self.backup_dir / f"{_PARTIAL_PREFIX}{name}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        weights = partial / BACKUP_WEIGHTS
        self.model.save_weights(str(weights), overwrite=True)
        sync_to_disk(weights)
        sync_to_disk(partial)
        if final.exists():  # e.g. an unreadable backup of this epoch that is being redone
            stale = self.backup_dir / f"{_PARTIAL_PREFIX}stale-{name}"
            shutil.rmtree(stale, ignore_errors=True)
            os.rename(final, stale)
        os.rename(partial, final)
        sync_to_disk(self.backup_dir)
        self._prune()
        return final

    def _prune(self) -> None:
        for epoch in backup_epochs(self.backup_dir)[: -self.keep]:
            shutil.rmtree(self.backup_dir / _EPOCH_FOLDER.format(epoch), ignore_errors=True)
        for leftover in self.backup_dir.glob(f"{_PARTIAL_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)


class FinishedEpochCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` of finished epochs only, written to a temporary file and renamed.

    Keras writes ``.keras`` archives in place; here the archive goes to
    ``.<stem>.partial.keras`` beside ``filepath`` and replaces ``filepath`` once
    complete. Epochs that :class:`EpochRecord` does not call finished (cut short,
    or with a non-finite loss) are skipped. Other arguments as ``ModelCheckpoint``
    (``monitor``, ``save_best_only``, ``initial_value_threshold``...).
    """

    def __init__(self, filepath: str | os.PathLike, record: EpochRecord | None = None, **kwargs):
        self.final_path = Path(filepath)
        self.partial_path = self.final_path.with_name(f".{self.final_path.stem}.partial.keras")
        super().__init__(str(self.partial_path), **kwargs)
        self.record = record

    def on_epoch_end(self, epoch, logs=None):
        if not _finished(self.record, logs):
            return
        self.partial_path.unlink(missing_ok=True)
        super().on_epoch_end(epoch, logs)
        if self.partial_path.exists():
            sync_to_disk(self.partial_path)
            os.replace(self.partial_path, self.final_path)
            sync_to_disk(self.final_path.parent)


# ---------------------------------------------------------------------------------------------
# The CSV log
# ---------------------------------------------------------------------------------------------
def read_log_rows(path: str | os.PathLike) -> dict[int, dict[str, str]]:
    """Rows of a CSV training log keyed by ``epoch`` (a repeated epoch: its last row)."""
    path = Path(path)
    if not path.exists():
        return {}
    rows: dict[int, dict[str, str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            epoch = (row.get("epoch") or "").strip()
            if epoch.isdigit():
                rows[int(epoch)] = {key: value for key, value in row.items() if key}
    return rows


def write_log_rows(path: str | os.PathLike, rows: dict[int, dict[str, str]]) -> None:
    """Write ``rows`` (``{epoch: {column: text}}``) as a CSV log, atomically.

    Columns: ``epoch`` then the others in alphabetical order; a value a row lacks
    is written as ``NA`` (as ``keras.callbacks.CSVLogger`` does).
    """
    columns = sorted({key for row in rows.values() for key in row} - {"epoch"})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for epoch in sorted(rows):
        writer.writerow([epoch, *(rows[epoch].get(column, "NA") for column in columns)])
    write_atomically(path, buffer.getvalue())


def trim_log(path: str | os.PathLike, epochs_done: int) -> None:
    """Drop the rows of epochs ``>= epochs_done`` (not in the backup: they will be redone)."""
    rows = read_log_rows(path)
    if any(epoch >= epochs_done for epoch in rows):
        write_log_rows(path, {epoch: row for epoch, row in rows.items() if epoch < epochs_done})


class EpochLog(keras.callbacks.Callback):
    """One CSV row per finished epoch (0-based ``epoch`` plus every logged value).

    Like ``keras.callbacks.CSVLogger(append=True)``, but the file is rewritten
    atomically after each epoch (so a kill never leaves half a row), a redone
    epoch replaces its old row, and epochs that :class:`EpochRecord` does not call
    finished are not logged.
    """

    def __init__(self, path: str | os.PathLike, record: EpochRecord | None = None):
        super().__init__()
        self.path = Path(path)
        self.record = record

    def on_epoch_end(self, epoch, logs=None):
        if not _finished(self.record, logs):
            return
        rows = read_log_rows(self.path)
        rows[int(epoch)] = {key: _cell(value) for key, value in (logs or {}).items()}
        write_log_rows(self.path, rows)


def _cell(value) -> str:
    array = np.asarray(value)
    return repr(float(array)) if array.ndim == 0 and array.dtype.kind in "biuf" else str(value)


# ---------------------------------------------------------------------------------------------
# Stopping
# ---------------------------------------------------------------------------------------------
class NaNGuard(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN`` that remembers where the loss stopped being finite.

    Attributes after training: ``epoch`` and ``batch`` of the first non-finite
    loss (``None`` when training stayed finite) and its ``value``.
    """

    def __init__(self):
        super().__init__(raise_error=False)
        self.epoch: int | None = None
        self.batch: int | None = None
        self.value: float | None = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.epoch is None and loss is not None and not finite(loss):
            self.epoch, self.batch, self.value = self._current_epoch, batch, float(loss)
        super().on_batch_end(batch, logs)


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly within a wall-clock budget of ``max_seconds``.

    * Between epochs: training stops when another epoch (as long as the last one,
      validation included) would end after the budget. ``stopped`` is then
      ``"predicted"`` and every epoch trained is finished.
    * Mid-epoch (safety net, e.g. a first epoch longer than the whole budget):
      training stops after the step at which the budget is spent; ``stopped`` is
      ``"exhausted"``. :class:`EpochRecord` then calls that epoch unfinished, so
      it is not checkpointed or logged, and a resumed run redoes it.

    Attributes: ``stopped`` (``None``, ``"predicted"`` or ``"exhausted"``),
    ``started`` (``clock()`` at the start of training). ``clock`` is
    ``time.perf_counter``; tests replace it (``TimeBudget.clock``) with a fake clock.
    """

    clock = staticmethod(time.perf_counter)

    def __init__(self, max_seconds: float):
        super().__init__()
        if not max_seconds > 0:
            raise ValueError(f"the time budget must be positive, got {max_seconds} s")
        self.max_seconds = float(max_seconds)
        self.stopped: str | None = None
        self.started = self.clock()
        self._epoch_started = self.started

    def elapsed(self) -> float:
        """Seconds since training started."""
        return self.clock() - self.started

    def on_train_begin(self, logs=None):
        self.started = self.clock()
        self.stopped = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.stopped is None and self.elapsed() >= self.max_seconds:
            self.stopped = "exhausted"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        last_epoch = self.clock() - self._epoch_started
        if self.stopped is None and self.elapsed() + last_epoch > self.max_seconds:
            self.stopped = "predicted"
            self.model.stop_training = True


# ---------------------------------------------------------------------------------------------
# Learning rate and counters
# ---------------------------------------------------------------------------------------------
class CosineSchedule(keras.callbacks.Callback):
    """Cosine learning-rate decay from ``peak`` to ``peak * final_fraction``.

    ``lr = low + (peak - low) * (1 + cos(pi * p)) / 2`` with progress ``p`` the
    larger of the epoch progress ``(epoch + batch / steps) / epochs`` and, when a
    :class:`TimeBudget` is given, the elapsed fraction of its budget. The rate is
    set before every batch and logged as ``learning_rate``. ``warmup_steps``
    optimizer steps ramp the rate up linearly from 0 first (counted with the
    optimizer's own step counter, so a resumed run does not warm up again).
    """

    def __init__(
        self,
        peak: float,
        epochs: int,
        final_fraction: float = 0.02,
        budget: TimeBudget | None = None,
        warmup_steps: int = 0,
    ):
        super().__init__()
        if not peak > 0:
            raise ValueError(f"the peak learning rate must be positive, got {peak}")
        self.peak = float(peak)
        self.low = float(peak) * float(final_fraction)
        self.epochs = max(1, int(epochs))
        self.budget = budget
        self.warmup_steps = int(warmup_steps)
        self._epoch = 0
        self.current = self.peak

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def rate(self, epoch: int, batch: int, steps: int | None, elapsed_fraction: float = 0.0):
        """The rate at step ``batch`` of ``epoch`` (0-based) of ``steps`` per epoch."""
        within = batch / steps if steps else 0.0
        progress = min(1.0, max((epoch + within) / self.epochs, elapsed_fraction))
        return self.low + (self.peak - self.low) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_batch_begin(self, batch, logs=None):
        fraction = self.budget.elapsed() / self.budget.max_seconds if self.budget else 0.0
        rate = self.rate(self._epoch, batch, self.params.get("steps"), fraction)
        if self.warmup_steps:
            step = int(self.model.optimizer.iterations.numpy())
            rate *= min(1.0, (step + 1) / self.warmup_steps)
        self.current = rate
        self.model.optimizer.learning_rate = rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.current)


class LogLearningRate(keras.callbacks.Callback):
    """Add the optimizer's learning rate to the epoch logs (for the CSV log)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))


class ImageCounter(keras.callbacks.Callback):
    """Counts training steps (``images = steps * batch_size``) and training seconds."""

    def __init__(self):
        super().__init__()
        self.batches = 0
        self.seconds = 0.0
        self._started = 0.0

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self._started
