"""Training that a user can trust: resume that knows what it resumes, checkpoints that
survive a kill at any moment, logs, a NaN guard, a learning-rate schedule, early
stopping and a wall-clock budget.

:func:`fit` wraps ``model.fit`` with the callbacks of :mod:`oasis_helpers.callbacks`,
all writing into ``run_dir``::

    run_dir/
        run_config.json         the run's configuration: the model's get_config() and the
                                caller's data/training settings (see "Resume" below)
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

Resume. Re-running :func:`fit` with ``resume=True`` (the default) on the same
``run_dir`` first compares the configuration it is asked to train (the model's
``get_config()`` and ``settings``) with ``run_config.json``. When they differ it
raises :class:`ConfigMismatchError` before loading anything, listing each
differing setting (stored -> requested): a checkpoint of another configuration is
never loaded into the model, nor reported as done. When they agree:

* after an interruption (kernel restart, crash, kill, Ctrl-C) it continues from
  the last finished epoch: at most one epoch is lost;
* after a finished run with a larger ``epochs`` it trains only the extra epochs;
* after a finished run with the same ``epochs`` it trains nothing and restores the
  trained weights (so a notebook can be re-run cheaply).

``epochs`` and ``max_train_minutes`` are not part of the configuration (raise them
to continue a run). ``resume=False`` deletes the run's files first and starts
over; :func:`config_run_dir` gives each configuration its own ``run_dir`` instead.

A non-finite training loss stops training at once (``TerminateOnNaN``), nothing
of that epoch is recorded, and :func:`fit` raises :class:`TrainingDivergedError`
with what to try. A wall-clock budget (``max_train_minutes``) stops training after
the last epoch that is predicted to fit (and, as a safety net, mid-epoch once the
budget is spent; that partial epoch is not recorded, a resumed run redoes it).
The cosine learning-rate schedule follows ``max(epoch progress, time progress)``,
so it reaches its low end also when the budget, not ``epochs``, ends training.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from oasis_helpers import distributed
from oasis_helpers.callbacks import (
    CosineSchedule,
    EpochBackup,
    EpochLog,
    EpochRecord,
    FinishedEpochCheckpoint,
    NaNGuard,
    TimeBudget,
    _ImageCounter,
    _LogLearningRate,
    backup_epochs,
    finite,
    read_log_rows,
    restore_backup,
    trim_log,
)
from oasis_helpers.runs import write_atomically

__all__ = [
    "DEFAULT_TRAINING",
    "BudgetStopWarning",
    "LR_SCHEDULES",
    "ConfigMismatchError",
    "FitResult",
    "TrainingDivergedError",
    "config_run_dir",
    "fit",
    "fit_with_settings",
    "read_history",
    "run_configuration",
    "vqvae_summary",
]

#: Default training settings of the series (notebook 03 and ``benchmarks/reconstruction.py``
#: read them from here): epochs, optimizer steps per epoch, images (crops) per step, the
#: side of the training crops, the peak learning rate, the validation slices evaluated
#: after each epoch, and the wall-clock budget of one training call in minutes. A default
#: run stops by its epochs; the budget is a safety net with room for a CPU several times
#: slower than one without oneDNN (``benchmarks/cpu_kernels.py``:
#: ``results.eigen.vqvae_crops_per_second``), and :class:`BudgetStopWarning` says when it
#: is reached.
DEFAULT_TRAINING: dict[str, Any] = {
    "epochs": 20,
    "steps_per_epoch": 100,
    "batch_size": 16,
    "crop_size": 128,
    "learning_rate": 2e-3,
    "validation_slices": 96,
    "max_train_minutes": 20.0,
}

#: Settings that may change between calls on one run (raise them to train on).
RESUMABLE_SETTINGS = ("epochs", "max_train_minutes")

#: Accepted values of ``lr_schedule``.
LR_SCHEDULES = ("cosine", "plateau", None)

RUN_CONFIG = "run_config.json"
CONFIG_FILE = "config.json"
BACKUP_DIR = "backup"
LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
CSV_LOG = "training_log.csv"
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = "training_state.json"
#: Files of Keras' own BackupAndRestore, written by versions that kept no run_config.json.
_LEGACY_BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


class ConfigMismatchError(ValueError):
    """``run_dir`` holds a run of another configuration than the one asked to resume.

    ``differences`` maps each differing setting (``"model.num_embeddings"``,
    ``"settings.crop_size"``...) to ``(stored, requested)``; for a run folder that
    recorded no configuration (written by an older version) it is empty.
    """

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any]] | None = None):
        super().__init__(message)
        self.differences = dict(differences or {})


# ---------------------------------------------------------------------------------------------
# The run's configuration
# ---------------------------------------------------------------------------------------------
def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def json_normalised(value) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, NumPy numbers Python ones)."""
    return json.loads(json.dumps(value, default=_json_default, sort_keys=True))


def run_configuration(model_config: dict, settings: dict | None = None) -> dict[str, Any]:
    """The configuration that identifies a run: ``{"model": ..., "settings": ...}``.

    ``model_config`` is a model's ``get_config()`` (or the keyword arguments it was
    built with); its ``name`` is dropped (Keras numbers the names of models built
    in one session). ``settings`` are the data and training settings; those that
    may grow between calls (:data:`RESUMABLE_SETTINGS`: ``epochs``,
    ``max_train_minutes``) are dropped. Both are JSON-normalised.
    """
    model_part = {key: value for key, value in dict(model_config).items() if key != "name"}
    settings_part = {
        key: value for key, value in dict(settings or {}).items() if key not in RESUMABLE_SETTINGS
    }
    return json_normalised({"model": model_part, "settings": settings_part})


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


_MISSING = "(not set)"


def configuration_differences(stored: dict, requested: dict) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (stored, requested)}`` for every setting that differs."""
    old, new = _flatten(stored), _flatten(requested)
    return {
        key: (old.get(key, _MISSING), new.get(key, _MISSING))
        for key in sorted(set(old) | set(new))
        if old.get(key, _MISSING) != new.get(key, _MISSING)
    }


def format_differences(differences: dict[str, tuple[Any, Any]]) -> str:
    """One indented line ``key: stored -> requested`` per difference."""
    return "\n".join(f"  {key}: {old!r} -> {new!r}" for key, (old, new) in differences.items())


def config_run_dir(
    base_dir: str | os.PathLike, model_config: dict, settings: dict | None = None
) -> Path:
    """A run folder of its own for each configuration: ``base_dir/<8 hex digits>``.

    The digits are the start of the SHA-256 of the canonical JSON of
    :func:`run_configuration` ``(model_config, settings)`` (so ``epochs`` and
    ``max_train_minutes`` do not change the folder: raising them continues the
    run). The folder is created with a readable ``config.json`` of that
    configuration inside. Pass the same kind of ``model_config`` each time (e.g.
    the keyword arguments given to ``make_vqvae``): the folder is keyed by the
    dictionary as given.

    Returns:
        The folder (created), to pass to :func:`fit` as ``run_dir``.
    """
    configuration = run_configuration(model_config, settings)
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    folder = Path(base_dir) / hashlib.sha256(canonical.encode()).hexdigest()[:8]
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(configuration, indent=2, sort_keys=True) + "\n"
    path = folder / CONFIG_FILE
    if not path.exists() or path.read_text() != text:
        write_atomically(path, text)
    return folder


def _check_configuration(run_dir: Path, configuration: dict[str, Any]) -> None:
    """Raise :class:`ConfigMismatchError` when ``run_dir`` holds another configuration."""
    fresh = (
        "Start fresh with fit(..., resume=False) (this deletes the run in that folder), or "
        "train into another run_dir, e.g. training.config_run_dir(base_dir, model_config, "
        "settings), which gives each configuration a folder of its own."
    )
    path = run_dir / RUN_CONFIG
    if not path.exists():
        legacy = any((run_dir / BACKUP_DIR / name).exists() for name in _LEGACY_BACKUP_FILES)
        if legacy or backup_epochs(run_dir / BACKUP_DIR):
            raise ConfigMismatchError(
                f"{run_dir} holds a training backup but no {RUN_CONFIG} (it was written by an "
                f"older version of oasis_helpers), so it is unknown which configuration it "
                f"belongs to and it cannot be resumed safely. {fresh}"
            )
        return
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigMismatchError(f"{path} is not valid JSON ({error}). {fresh}") from error
    differences = configuration_differences(stored, configuration)
    if differences:
        raise ConfigMismatchError(
            f"{run_dir} holds a run of another configuration, so it cannot be resumed with "
            f"this one. Differing settings (stored -> requested):\n"
            f"{format_differences(differences)}\n{fresh}",
            differences,
        )


# ---------------------------------------------------------------------------------------------
# State on disk
# ---------------------------------------------------------------------------------------------
class BudgetStopWarning(UserWarning):
    """A training was stopped by its wall-clock budget before it finished its epochs.

    The defaults are chosen so that a default run stops by its epochs on a slow CPU (the
    budget is a safety net); when the budget does stop it, the result depends on the
    machine's speed, and the user is told so.
    """


@dataclass
class FitResult:
    """What :func:`fit` did.

    ``history`` holds every finished epoch logged in ``run_dir`` (earlier calls
    included), read back from the CSV log; ``epochs_completed`` counts the finished
    epochs (a partial epoch cut short by the time budget is not counted).
    ``stopped_by`` is ``"epochs"``, ``"time_budget"``, ``"early_stopping"`` or
    ``"already_done"`` (nothing left to train). Seconds and images are for this
    call (including a partial epoch); ``total_train_seconds`` sums all calls.
    ``extra`` holds ``time_budget_seconds`` and ``partial_epoch_steps`` (steps of
    an epoch cut short, 0 when none).
    """

    run_dir: Path
    history: dict[str, list[float]]
    epochs_completed: int
    initial_epoch: int
    stopped_by: str
    train_seconds: float
    images_seen: int
    images_per_second: float
    total_train_seconds: float
    total_images_seen: int
    resumed: bool
    extra: dict[str, Any] = field(default_factory=dict)


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


def _read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); delete it or call fit(..., resume=False)"
        ) from error


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    write_atomically(run_dir / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def _clear_run(run_dir: Path) -> None:
    for name in (BACKUP_DIR, TENSORBOARD_DIR):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (RUN_CONFIG, LAST_MODEL, BEST_MODEL, CSV_LOG, STATE_FILE):
        (run_dir / name).unlink(missing_ok=True)


def _best_so_far(history: dict[str, list[float]], monitor: str) -> float | None:
    values = [value for value in history.get(monitor, []) if finite(value)]
    return min(values) if values else None


# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------
def fit(
    model: keras.Model,
    train_data,
    run_dir: str | os.PathLike,
    epochs: int,
    validation_data=None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    lr_schedule: str | None = "cosine",
    final_lr_fraction: float = 0.02,
    warmup_steps: int = 0,
    early_stopping_patience: int | None = 5,
    max_train_minutes: float | None = None,
    resume: bool = True,
    verbose: str | int = "auto",
    tensorboard: bool | str = "auto",
    callbacks: list | None = None,
    settings: dict | None = None,
) -> FitResult:
    """Train ``model`` with checkpoints, resume, logs, NaN guard, schedule and a time budget.

    Args:
        model: a compiled Keras model (built; e.g. from ``models.make_vqvae``). Build
            and compile it under the strategy's scope before calling this.
        train_data: a ``tf.data.Dataset`` (or anything ``model.fit`` accepts as ``x``).
        run_dir: folder for checkpoints and logs (created); e.g. from
            :func:`config_run_dir`.
        epochs: total epochs, counting those of earlier calls on the same ``run_dir``.
        validation_data: optional; enables ``best.keras``, early stopping and the
            plateau schedule.
        steps_per_epoch, validation_steps: as ``model.fit`` (needed for repeated data).
        batch_size: images per training step, to report ``images_per_second``.
        learning_rate: the peak learning rate (default: the optimizer's current one).
        lr_schedule: ``"cosine"`` (see :class:`~oasis_helpers.callbacks.CosineSchedule`),
            ``"plateau"`` (``ReduceLROnPlateau`` on ``val_loss``) or ``None`` (constant).
        final_lr_fraction: the cosine schedule's end, as a fraction of the peak.
        warmup_steps: linear warm-up steps of the cosine schedule.
        early_stopping_patience: epochs without a better ``val_loss`` before
            stopping (``None``: no early stopping).
        max_train_minutes: wall-clock budget of this call (``None``: unlimited).
        resume: continue from ``run_dir``'s checkpoint (after checking that it holds
            this configuration); ``False`` starts over (deletes the checkpoints,
            logs, models and configuration in ``run_dir``).
        verbose: ``model.fit``'s progress display (``"auto"``, 0, 1 bar, 2 lines).
        tensorboard: write TensorBoard logs (``"auto"``: when the ``tensorboard``
            package is installed; TensorFlow 2.21 no longer pulls it in).
        callbacks: extra Keras callbacks (e.g. ``plots.LivePlot``); they see every
            epoch, also one cut short.
        settings: the data and training settings that define the run besides the
            model (e.g. ``data_dir``, ``image_size``, ``crop_size``, ``batch_size``,
            ``steps_per_epoch``, ``learning_rate``, ``seed``); JSON-able values.
            Stored with ``model.get_config()`` in ``run_dir/run_config.json``;
            ``epochs`` and ``max_train_minutes`` are left out (they may grow).

    Returns:
        A :class:`FitResult`. The model holds the weights of the last finished
        epoch, except after a mid-epoch budget stop, where it keeps the weights of
        the last step (that partial epoch is not checkpointed: a resumed run
        redoes it from the last finished epoch).

    Raises:
        ConfigMismatchError: ``resume=True`` and ``run_dir`` holds a run of another
            configuration (or a backup that recorded none); nothing was loaded.
        TrainingDivergedError: the training loss became NaN/inf (the last good
            epoch stays in ``run_dir/backup``).
        ValueError: invalid arguments.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if max_train_minutes is not None and not max_train_minutes > 0:
        raise ValueError(f"max_train_minutes must be positive or None, got {max_train_minutes}")
    if settings is not None and not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict or None, got {type(settings).__name__}")
    if not model.built:
        raise ValueError("build the model before fit (VQVAE builds itself when created)")
    if model.optimizer is None:
        raise ValueError("compile the model (with an optimizer) before fit")
    epochs = int(epochs)
    # in a multi-worker cluster only the chief writes run_dir; the others get a private copy
    run_dir = distributed.worker_run_dir(run_dir, model.distribute_strategy, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _clear_run(run_dir)

    # the configuration is checked before anything is loaded into the model
    configuration = run_configuration(model.get_config(), settings)
    _check_configuration(run_dir, configuration)
    if not (run_dir / RUN_CONFIG).exists():
        write_atomically(
            run_dir / RUN_CONFIG, json.dumps(configuration, indent=2, sort_keys=True) + "\n"
        )

    state = _read_state(run_dir)
    # the peak rate of a resumed run is the one its first call used (the optimizer's
    # current rate may already be decayed)
    peak = float(
        learning_rate
        or state.get("peak_learning_rate")
        or np.asarray(model.optimizer.learning_rate)
    )
    model.optimizer.learning_rate = peak
    previous_seconds = float(state.get("total_train_seconds", 0.0))
    previous_images = int(state.get("total_images_seen", 0))

    done = restore_backup(model, run_dir / BACKUP_DIR)
    # rows of epochs beyond the backup (a kill between the log and the backup) are redone
    trim_log(run_dir / CSV_LOG, done)
    finished_early = state.get("stopped_by") == "early_stopping" and epochs <= int(
        state.get("epochs_requested", 0)
    )
    if done and (done >= epochs or finished_early):
        return FitResult(
            run_dir=run_dir,
            history=read_history(run_dir),
            epochs_completed=done,
            initial_epoch=done,
            stopped_by="already_done",
            train_seconds=0.0,
            images_seen=0,
            images_per_second=float(state.get("images_per_second", 0.0)),
            total_train_seconds=previous_seconds,
            total_images_seen=previous_images,
            resumed=True,
        )

    history_before = read_history(run_dir)
    record = EpochRecord()
    nan_guard = NaNGuard()
    budget = TimeBudget(max_train_minutes * 60.0) if max_train_minutes else None
    counter = _ImageCounter()
    # the record comes first: the others ask it whether an epoch is finished
    callback_list: list = [record, nan_guard, counter]
    if budget is not None:
        callback_list.append(budget)
    if lr_schedule == "cosine":
        callback_list.append(
            CosineSchedule(peak, epochs, final_lr_fraction, budget, warmup_steps=warmup_steps)
        )
    else:
        callback_list.append(_LogLearningRate())
    early_stopping = None
    if validation_data is not None:
        if lr_schedule == "plateau":
            callback_list.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", factor=0.5, patience=2, min_lr=peak * final_lr_fraction
                )
            )
        if early_stopping_patience:
            early_stopping = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(early_stopping_patience), min_delta=1e-6
            )
            callback_list.append(early_stopping)
        callback_list.append(
            FinishedEpochCheckpoint(
                run_dir / BEST_MODEL,
                record,
                monitor="val_loss",
                save_best_only=True,
                initial_value_threshold=_best_so_far(history_before, "val_loss"),
            )
        )
    callback_list += [
        FinishedEpochCheckpoint(run_dir / LAST_MODEL, record, save_best_only=False),
        EpochLog(run_dir / CSV_LOG, record),
    ]
    if tensorboard == "auto":
        tensorboard = importlib.util.find_spec("tensorboard") is not None
    if tensorboard:
        callback_list.append(
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / TENSORBOARD_DIR), write_graph=False, update_freq="epoch"
            )
        )
    # the backup comes last: it records an epoch only once everything else has seen it
    callback_list.append(EpochBackup(run_dir / BACKUP_DIR, record))
    callback_list += list(callbacks or [])
    # in a cluster: one clock (the chief's) for the budget, one stop decision for all
    callback_list = distributed.synchronise_callbacks(callback_list, model.distribute_strategy)

    _write_state(
        run_dir,
        {
            **state,
            "epochs_requested": epochs,
            "stopped_by": "running",
            "epochs_completed": done,
            "peak_learning_rate": peak,
        },
    )
    model.fit(
        train_data,
        epochs=epochs,
        initial_epoch=done,
        validation_data=validation_data,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=callback_list,
        verbose=verbose,
        shuffle=False,  # tf.data pipelines shuffle themselves
    )

    completed = max([done, *backup_epochs(run_dir / BACKUP_DIR)])
    partial_steps = record.steps_done if not record.finished and nan_guard.epoch is None else 0
    images = counter.batches * int(batch_size or 0)
    seconds = counter.seconds
    if nan_guard.epoch is not None:
        stopped_by = "nan"
    elif early_stopping is not None and early_stopping.stopped_epoch > 0:
        stopped_by = "early_stopping"
    elif budget is not None and budget.stopped:
        stopped_by = "time_budget"
    else:
        stopped_by = "epochs"
    rate = images / seconds if seconds > 0 and images else 0.0
    new_state = {
        "epochs_requested": epochs,
        "epochs_completed": completed,
        "peak_learning_rate": peak,
        "stopped_by": stopped_by,
        "total_train_seconds": previous_seconds + seconds,
        "total_images_seen": previous_images + images,
        "images_per_second": rate,
        "time_budget_seconds": budget.max_seconds if budget else None,
        "partial_epoch_steps": partial_steps,
    }
    _write_state(run_dir, new_state)
    if stopped_by == "time_budget":
        warnings.warn(
            f"training stopped at its time budget ({max_train_minutes:g} minutes) after "
            f"{completed} of {epochs} epochs, at {rate:.1f} images/s: the model is "
            f"under-trained and its results depend on this machine's speed. Run the same "
            f"call again (resume=True) to train the remaining epochs, or raise "
            f"max_train_minutes.",
            BudgetStopWarning,
            stacklevel=2,
        )

    if nan_guard.epoch is not None:
        if completed:
            restore_backup(model, run_dir / BACKUP_DIR)
        raise TrainingDivergedError(
            f"the training loss became {nan_guard.value} at epoch {nan_guard.epoch + 1}, batch "
            f"{nan_guard.batch + 1}; training stopped. The last finite epoch ({completed}) is "
            f"kept in {run_dir / BACKUP_DIR} and the model was reset to it. Try a lower "
            f"learning_rate (peak was {peak:g}), check the images for NaN/inf values, or turn "
            f"mixed precision off (mixed_precision=False); fit(..., resume=True) continues from "
            f"the last good epoch, resume=False starts over."
        )
    return FitResult(
        run_dir=run_dir,
        history=read_history(run_dir),
        epochs_completed=completed,
        initial_epoch=done,
        stopped_by=stopped_by,
        train_seconds=seconds,
        images_seen=images,
        images_per_second=rate,
        total_train_seconds=previous_seconds + seconds,
        total_images_seen=previous_images + images,
        resumed=done > 0,
        extra={
            "time_budget_seconds": new_state["time_budget_seconds"],
            "partial_epoch_steps": partial_steps,
        },
    )


# ---------------------------------------------------------------------------------------------
# A run's settings: trained with, and reported (notebook 03)
# ---------------------------------------------------------------------------------------------
#: The training settings :func:`fit_with_settings` takes from a run's ``settings``.
TRAINING_SETTINGS = ("epochs", "steps_per_epoch", "batch_size", "learning_rate")


def fit_with_settings(
    model: keras.Model, train_data, run_dir: str | os.PathLike, settings: dict, **options
) -> FitResult:
    """:func:`fit` with the training settings that the run is filed under.

    ``settings`` is the dictionary that names the run (:func:`config_run_dir`) and that
    :func:`fit` stores in ``run_config.json``. Its ``epochs``, ``steps_per_epoch``,
    ``batch_size``, ``learning_rate`` (and ``max_train_minutes``, when present) are the
    values trained with, so a run never trains with other values than the ones it records,
    and two calls with the same settings (notebook 03's training and its widget) train the
    same way. ``epochs`` and ``max_train_minutes`` stay out of the configuration
    (:data:`RESUMABLE_SETTINGS`: raising them continues a run).

    Args:
        model, train_data, run_dir: as :func:`fit`.
        settings: the run's data and training settings (JSON-able values).
        **options: the other arguments of :func:`fit` (``validation_data``, ``resume``,
            ``verbose``, ``callbacks``, ...); ``max_train_minutes`` given here overrides
            the settings' value (a shorter budget for a quick try).

    Raises:
        ValueError: ``settings`` lacks one of :data:`TRAINING_SETTINGS`, or ``options``
            repeats one of them (or ``settings``).
    """
    missing = [key for key in TRAINING_SETTINGS if key not in settings]
    if missing:
        raise ValueError(f"settings lack the training settings {missing}: add them to settings")
    repeated = sorted(set(options) & {*TRAINING_SETTINGS, "settings"})
    if repeated:
        raise ValueError(f"{repeated} come from settings: change them there, not in the call")
    options.setdefault("max_train_minutes", settings.get("max_train_minutes"))
    chosen = {key: settings[key] for key in TRAINING_SETTINGS}
    return fit(model, train_data, run_dir, settings=settings, **chosen, **options)


#: Settings that :func:`vqvae_summary` reports as they are (and ``epochs`` as ``epochs_requested``).
_REPORTED_SETTINGS = (
    *("crop_size", "max_train_minutes", "steps_per_epoch", "batch_size", "learning_rate"),
    *("validation_slices", "precision", "smoke", "seed"),
)
#: Model settings that :func:`vqvae_summary` reports as they are.
_REPORTED_MODEL_SETTINGS = (
    *("num_embeddings", "embedding_dim", "commitment_cost", "quantizer", "dead_code_steps"),
    *("downsample", "num_residual_blocks", "residual_channels"),
)


def vqvae_summary(
    model: keras.Model,
    model_config: dict,
    settings: dict,
    result: FitResult,
    evaluation: dict,
    codes: dict[str, dict],
    ssim_reloaded: float,
    training_folder: str | os.PathLike,
) -> dict[str, Any]:
    """What notebook 03 writes to ``metrics.json``: the run's settings and its measurements.

    Args:
        model: the trained VQ-VAE (its parameter count; the distribution strategy it was
            built under, and its replicas).
        model_config: the keyword arguments it was built with (``models.make_vqvae``):
            ``image_size``, ``downsample``, ``channels``, ``num_residual_blocks``,
            ``residual_channels``, ``num_embeddings``, ``embedding_dim``,
            ``commitment_cost``, ``quantizer``, ``ema_decay``, ``dead_code_steps``.
        settings: the run's data and training settings (:func:`fit_with_settings`):
            ``layout``, ``image_size``, ``crop_size``, ``batch_size``, ``steps_per_epoch``,
            ``learning_rate``, ``validation_slices``, ``epochs``, ``max_train_minutes``,
            ``precision``, ``smoke``, ``seed``.
        result: what the training call returned.
        evaluation: :func:`oasis_helpers.metrics.evaluate_reconstructions` of the test slices.
        codes: ``{"train": ..., "test": ...}``, each
            :func:`oasis_helpers.metrics.code_statistics` of that split's code grids.
        ssim_reloaded: the test SSIM of the model saved and loaded again.
        training_folder: the training folder, relative to ``run_dir``.

    Returns:
        A flat dict of plain values. Throughputs and image counts are in whole-slice
        equivalents: a ``crop_size`` crop counts as ``(crop_size / image_size)**2`` slices
        (``train_crops_per_second`` counts crops, ``None`` without crops). ``ema_decay`` is
        ``None`` unless the quantizer is ``"ema"``.
    """
    from oasis_helpers.models import bits_per_slice

    image_size, batch_size, crop_size = (
        settings[key] for key in ("image_size", "batch_size", "crop_size")
    )
    side = crop_size or image_size
    slices_per_step = batch_size * side**2 / image_size**2  # whole-slice equivalents
    downsample, num_embeddings = model_config["downsample"], model_config["num_embeddings"]
    code_size = image_size // downsample
    strategy = model.distribute_strategy
    measured = {
        "ssim_test": evaluation["ssim"],
        "ssim_brain_test": evaluation["ssim_brain"],
        "psnr_test": evaluation["psnr"],
        "psnr_brain_test": evaluation["psnr_brain"],
        "ssim_test_reloaded": ssim_reloaded,
        "test_slices": len(evaluation["per_slice"]["ssim"]),
        "code_perplexity_test": codes["test"]["code_perplexity"],
        "codebook_usage_test": codes["test"]["codebook_usage"],
        "codebook_usage_train": codes["train"]["codebook_usage"],
    }
    trained = {
        "epochs": result.epochs_completed,
        "resumed_from_epoch": result.initial_epoch,
        "stopped_by": result.stopped_by,
        "train_loss_by_epoch": result.history.get("loss", []),
        "train_seconds": result.total_train_seconds,
        "train_seconds_this_run": result.train_seconds,
        "train_images": result.total_images_seen * slices_per_step / batch_size,
        "train_images_per_second": result.images_per_second * slices_per_step / batch_size,
        "train_crops_per_second": result.images_per_second if crop_size else None,
        "training_folder": str(training_folder),
    }
    return {
        "layout": settings["layout"],
        "image_size": image_size,
        **measured,
        **trained,
        **{key: settings[key] for key in _REPORTED_SETTINGS},
        "epochs_requested": settings["epochs"],
        **{key: model_config[key] for key in _REPORTED_MODEL_SETTINGS},
        "ema_decay": model_config["ema_decay"] if model_config["quantizer"] == "ema" else None,
        "channels": list(model_config["channels"]),
        "parameters": model.count_params(),
        "code_grid": [code_size, code_size],
        "bits_per_slice": bits_per_slice(image_size, downsample, num_embeddings),
        "pixel_bits_per_slice": image_size * image_size * 8,
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
    }
