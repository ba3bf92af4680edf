"""Training that a user can trust: :func:`fit` wraps ``model.fit`` with resume that knows
what it resumes, checkpoints that survive a kill at any moment, logs, a NaN guard, a
learning-rate schedule, early stopping and a wall-clock budget.

The callbacks come from :mod:`oasis_helpers.callbacks`; they write the files of
:mod:`~oasis_helpers.training.run_files` into ``run_dir``.

Resume. With ``resume=True`` (the default) :func:`fit` first checks that ``run_dir``
holds the configuration it is asked to train
(:mod:`~oasis_helpers.training.configuration`; another one raises
``ConfigMismatchError`` before anything is loaded). Then:

* after an interruption (kernel restart, crash, kill, Ctrl-C) it continues from
  the last finished epoch: at most one epoch is lost;
* after a finished run with a larger ``epochs`` it trains only the extra epochs;
* after a finished run with the same ``epochs`` it trains nothing and restores the
  trained weights (so a notebook can be re-run cheaply).

``resume=False`` deletes the run's files first and starts over.

A non-finite training loss stops training at once (``TerminateOnNaN``), nothing
of that epoch is recorded, and :func:`fit` raises :class:`TrainingDivergedError`
with what to try. A wall-clock budget (``max_train_minutes``) stops training after
the last epoch that is predicted to fit (and, as a safety net, mid-epoch once the
budget is spent; that partial epoch is not recorded, a resumed run redoes it).
The cosine learning-rate schedule follows ``max(epoch progress, time progress)``,
so it reaches its low end also when the budget, not ``epochs``, ends training.
"""

from __future__ import annotations

import importlib.util
import json
import os
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
    ImageCounter,
    LogLearningRate,
    NaNGuard,
    TimeBudget,
    backup_epochs,
    restore_backup,
    trim_log,
)
from oasis_helpers.runs import write_atomically
from oasis_helpers.training.configuration import check_run_dir, run_configuration
from oasis_helpers.training.run_files import (
    BACKUP_DIR,
    BEST_MODEL,
    CSV_LOG,
    LAST_MODEL,
    RUN_CONFIG,
    TENSORBOARD_DIR,
    best_so_far,
    clear_run,
    read_history,
    read_state,
    write_state,
)

#: Accepted values of ``lr_schedule``.
LR_SCHEDULES = ("cosine", "plateau", None)


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


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
    ``requested_run_dir`` is the folder the call was given: ``run_dir`` itself, except on
    a worker of a cluster other than the chief, whose ``run_dir`` is a private copy
    (:func:`oasis_helpers.distributed.worker_run_dir`). ``extra`` holds
    ``time_budget_seconds`` and ``partial_epoch_steps`` (steps of an epoch cut short, 0
    when none).
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
    requested_run_dir: Path | None = None


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
            configuration (or a backup whose run_config.json is gone); nothing was loaded.
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
    requested_run_dir = Path(run_dir)
    # in a multi-worker cluster only the chief writes run_dir; the others get a private copy
    run_dir = distributed.worker_run_dir(run_dir, model.distribute_strategy, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        clear_run(run_dir)

    # the configuration is checked before anything is loaded into the model
    configuration = run_configuration(model.get_config(), settings)
    check_run_dir(run_dir, configuration)
    if not (run_dir / RUN_CONFIG).exists():
        write_atomically(
            run_dir / RUN_CONFIG, json.dumps(configuration, indent=2, sort_keys=True) + "\n"
        )

    state = read_state(run_dir)
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
            requested_run_dir=requested_run_dir,
        )

    history_before = read_history(run_dir)
    record = EpochRecord()
    nan_guard = NaNGuard()
    budget = TimeBudget(max_train_minutes * 60.0) if max_train_minutes else None
    counter = ImageCounter()
    # the record comes first: the others ask it whether an epoch is finished
    callback_list: list = [record, nan_guard, counter]
    if budget is not None:
        callback_list.append(budget)
    if lr_schedule == "cosine":
        callback_list.append(
            CosineSchedule(peak, epochs, final_lr_fraction, budget, warmup_steps=warmup_steps)
        )
    else:
        callback_list.append(LogLearningRate())
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
                initial_value_threshold=best_so_far(history_before, "val_loss"),
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

    write_state(
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
    write_state(run_dir, new_state)
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
        requested_run_dir=requested_run_dir,
    )
