"""Training that a user can trust: checkpoints every epoch, resume, logs, NaN guard,
learning-rate schedule, early stopping and a wall-clock budget.

:func:`fit` wraps ``model.fit`` with these callbacks, all writing into ``run_dir``::

    run_dir/
        backup/                 keras.callbacks.BackupAndRestore: weights + optimizer state +
                                epoch counter after every finished epoch (kept after a
                                successful fit, so a later call can continue from it)
        last.keras              the whole model after the last finished epoch
        best.keras              the model with the lowest validation loss so far
        training_log.csv        keras.callbacks.CSVLogger, appended to on resume
        tensorboard/            keras.callbacks.TensorBoard
        training_state.json     epochs completed, why training stopped, seconds and
                                images trained (over all calls)

Re-running :func:`fit` with ``resume=True`` (the default) on the same ``run_dir``:

* after an interruption (kernel restart, crash, Ctrl-C) continues from the last
  finished epoch: at most one epoch is lost;
* after a finished run with a larger ``epochs`` trains only the extra epochs;
* after a finished run with the same ``epochs`` trains nothing and restores the
  trained weights (so a notebook can be re-run cheaply).

``resume=False`` deletes these files first and starts over.

A non-finite training loss stops training at once (``TerminateOnNaN``), nothing
of that epoch is checkpointed, and :func:`fit` raises :class:`TrainingDivergedError`
with what to try. A wall-clock budget (``max_train_minutes``) stops training
after the last epoch that is predicted to fit (and, as a safety net, mid-epoch
once the budget is spent). The cosine learning-rate schedule follows
``max(epoch progress, time progress)``, so it reaches its low end also when the
budget, not ``epochs``, ends training.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

__all__ = [
    "LR_SCHEDULES",
    "CosineSchedule",
    "FitResult",
    "LivePlot",
    "NaNGuard",
    "SafeBackupAndRestore",
    "TimeBudget",
    "TrainingDivergedError",
    "brain_crops",
    "fit",
    "make_vqvae",
    "plot_history",
    "read_history",
]

#: Accepted values of ``lr_schedule``.
LR_SCHEDULES = ("cosine", "plateau", None)

BACKUP_DIR = "backup"
LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
CSV_LOG = "training_log.csv"
TENSORBOARD_DIR = "tensorboard"
STATE_FILE = "training_state.json"


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


# ---------------------------------------------------------------------------------------------
# Callbacks
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
        if self.epoch is None and loss is not None and not _finite(loss):
            self.epoch, self.batch, self.value = self._current_epoch, batch, float(loss)
        super().on_batch_end(batch, logs)


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that never backs up an epoch whose loss is not finite.

    Keras calls ``on_epoch_end`` also for the epoch that ``TerminateOnNaN`` cut
    short; without this check the backup would hold NaN weights and every later
    resume would start from them.
    """

    def on_epoch_end(self, epoch, logs=None):
        if all(_finite(value) for key, value in (logs or {}).items() if "loss" in key):
            super().on_epoch_end(epoch, logs)


class FiniteModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` that skips epochs whose loss is not finite."""

    def on_epoch_end(self, epoch, logs=None):
        if all(_finite(value) for key, value in (logs or {}).items() if "loss" in key):
            super().on_epoch_end(epoch, logs)


class TimeBudget(keras.callbacks.Callback):
    """Stop training cleanly within a wall-clock budget of ``max_seconds``.

    At the end of each epoch, training stops when another epoch (as long as the
    last one, validation included) would end after the budget. As a safety net
    (e.g. a first epoch longer than the whole budget), training also stops after
    the batch at which the budget is spent; Keras still finishes that epoch's
    bookkeeping (validation, checkpoints).

    Attributes: ``stopped`` (``None``, ``"predicted"`` or ``"exhausted"``),
    ``started`` (``time.perf_counter()`` at the start of training).
    """

    def __init__(self, max_seconds: float):
        super().__init__()
        if not max_seconds > 0:
            raise ValueError(f"the time budget must be positive, got {max_seconds} s")
        self.max_seconds = float(max_seconds)
        self.stopped: str | None = None
        self.started = time.perf_counter()
        self._epoch_started = self.started

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.stopped = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed() >= self.max_seconds:
            self.stopped = "exhausted"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        last_epoch = time.perf_counter() - self._epoch_started
        if self.stopped is None and self.elapsed() + last_epoch > self.max_seconds:
            self.stopped = "predicted"
            self.model.stop_training = True


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


class _LogLearningRate(keras.callbacks.Callback):
    """Add the optimizer's learning rate to the epoch logs (for the CSV log)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))


class _ImageCounter(keras.callbacks.Callback):
    """Counts training batches (``images = batches * batch_size``) and training seconds."""

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


# ---------------------------------------------------------------------------------------------
# State on disk
# ---------------------------------------------------------------------------------------------
@dataclass
class FitResult:
    """What :func:`fit` did.

    ``history`` holds every epoch logged in ``run_dir`` (earlier calls included),
    read back from the CSV log; ``epochs_completed`` counts them. ``stopped_by``
    is ``"epochs"``, ``"time_budget"``, ``"early_stopping"`` or ``"already_done"``
    (nothing left to train). Seconds and images are for this call;
    ``total_train_seconds`` sums all calls.
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

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["run_dir"] = str(self.run_dir)
        return values


def read_history(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """The CSV training log of ``run_dir`` as ``{column: [value per epoch]}``.

    Rows are keyed by ``epoch``; a row repeated by an interrupted-and-resumed run
    is taken from its latest occurrence. Empty when no log exists.
    """
    path = Path(run_dir) / CSV_LOG
    if not path.exists():
        return {}
    rows: dict[int, dict[str, str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("epoch", "").strip().isdigit():
                rows[int(row["epoch"])] = row
    history: dict[str, list[float]] = {}
    columns = sorted({key for row in rows.values() for key in row if key})
    for epoch in sorted(rows):
        for column in columns:
            history.setdefault(column, []).append(_to_float(rows[epoch].get(column)))
    return history


def _to_float(text: str | None) -> float:
    """A CSV cell as float; empty or ``NA`` (CSVLogger's missing value) as NaN."""
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


def _backup_epoch(run_dir: Path) -> int:
    """Epochs finished according to BackupAndRestore's metadata (0 when no backup)."""
    path = run_dir / BACKUP_DIR / "training_metadata.json"
    if not path.exists():
        return 0
    return int(json.loads(path.read_text()).get("epoch", 0))


def _clear_run(run_dir: Path) -> None:
    for name in (BACKUP_DIR, TENSORBOARD_DIR):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (LAST_MODEL, BEST_MODEL, CSV_LOG, STATE_FILE):
        (run_dir / name).unlink(missing_ok=True)


def _best_so_far(history: dict[str, list[float]], monitor: str) -> float | None:
    values = [value for value in history.get(monitor, []) if _finite(value)]
    return min(values) if values else None


# ---------------------------------------------------------------------------------------------
# Training on brain crops
# ---------------------------------------------------------------------------------------------
def brain_crops(dataset, crop_size: int, batch_size: int, seed: int = 42, threshold: float = 0.02):
    """Re-batch a dataset of images into random ``crop_size`` crops centred in the brain.

    The VQ-VAE is fully convolutional, so it can train on crops and still encode
    whole slices. A crop costs ``(crop_size / S)^2`` of a slice, and centring it on a
    random brain pixel (``image > threshold``; the image centre when there is none)
    spends that computation on brain rather than on black background, which the
    model learns within a few steps. Crops are clamped to the image.

    Args:
        dataset: yields float ``[B, S, S, 1]`` batches (or tuples whose first item is).
        crop_size: side of the crops (<= S).
        batch_size: crops per output batch (incomplete batches are dropped).
        seed: seeds the choice of centres.

    Returns:
        A dataset of float32 ``[batch_size, crop_size, crop_size, 1]`` batches.
    """
    import tensorflow as tf

    crop_size = int(crop_size)

    def first(*items):
        return items[0]

    def crop(image, pair):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        brain = tf.where(image[..., 0] > threshold)  # [M, 2] int64
        count = tf.shape(brain, out_type=tf.int64)[0]
        choice = tf.random.stateless_uniform(
            [], seed=pair, minval=0, maxval=tf.maximum(count, 1), dtype=tf.int64
        )
        centre = tf.cond(
            count > 0,
            lambda: tf.cast(brain[choice], tf.int32),
            lambda: tf.stack([height // 2, width // 2]),
        )
        top = tf.clip_by_value(centre[0] - crop_size // 2, 0, height - crop_size)
        left = tf.clip_by_value(centre[1] - crop_size // 2, 0, width - crop_size)
        return tf.image.crop_to_bounding_box(image, top, left, crop_size, crop_size)

    images = dataset.map(first).unbatch()
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
    crops = tf.data.Dataset.zip((images, seeds)).map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    return crops.batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------------------------
# Model factory
# ---------------------------------------------------------------------------------------------
def make_vqvae(
    strategy=None,
    learning_rate: float = 1e-3,
    jit_compile: bool | str = False,
    run_eagerly: bool = False,
    **config,
):
    """Build and compile a :class:`oasis_helpers.models.VQVAE` under ``strategy.scope()``.

    ``strategy`` comes from :func:`oasis_helpers.runs.select_strategy` (which also
    sets the precision policy); ``None`` uses the current (default) strategy.
    ``config`` goes to ``VQVAE``. Compiled with Adam (``learning_rate``); under
    ``mixed_float16`` Keras wraps it in a ``LossScaleOptimizer``. ``run_eagerly``
    skips graph tracing (slow steps, but no start-up cost: for tiny test models).
    """
    import tensorflow as tf

    from oasis_helpers.models import VQVAE

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = VQVAE(**config)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
        )
    return model


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
) -> FitResult:
    """Train ``model`` with checkpoints, resume, logs, NaN guard, schedule and a time budget.

    Args:
        model: a compiled Keras model (built; e.g. from :func:`make_vqvae`). Build
            and compile it under the strategy's scope before calling this.
        train_data: a ``tf.data.Dataset`` (or anything ``model.fit`` accepts as ``x``).
        run_dir: folder for checkpoints and logs (created).
        epochs: total epochs, counting those of earlier calls on the same ``run_dir``.
        validation_data: optional; enables ``best.keras``, early stopping and the
            plateau schedule.
        steps_per_epoch, validation_steps: as ``model.fit`` (needed for repeated data).
        batch_size: images per training step, to report ``images_per_second``.
        learning_rate: the peak learning rate (default: the optimizer's current one).
        lr_schedule: ``"cosine"`` (see :class:`CosineSchedule`), ``"plateau"``
            (``ReduceLROnPlateau`` on ``val_loss``) or ``None`` (constant).
        final_lr_fraction: the cosine schedule's end, as a fraction of the peak.
        warmup_steps: linear warm-up steps of the cosine schedule.
        early_stopping_patience: epochs without a better ``val_loss`` before
            stopping (``None``: no early stopping).
        max_train_minutes: wall-clock budget of this call (``None``: unlimited).
        resume: continue from ``run_dir``'s checkpoint; ``False`` starts over
            (deletes the checkpoint, logs and models in ``run_dir``).
        verbose: ``model.fit``'s progress display (``"auto"``, 0, 1 bar, 2 lines).
        tensorboard: write TensorBoard logs (``"auto"``: when the ``tensorboard``
            package is installed; TensorFlow 2.21 no longer pulls it in).
        callbacks: extra Keras callbacks (e.g. a live plot).

    Returns:
        A :class:`FitResult`; the model holds the weights of the last finished epoch.

    Raises:
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
    if not model.built:
        raise ValueError("build the model before fit (VQVAE builds itself when created)")
    if model.optimizer is None:
        raise ValueError("compile the model (with an optimizer) before fit")
    epochs = int(epochs)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _clear_run(run_dir)

    state = _read_state(run_dir)
    done = _backup_epoch(run_dir)
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

    finished_early = state.get("stopped_by") == "early_stopping" and epochs <= int(
        state.get("epochs_requested", 0)
    )
    if done and (done >= epochs or finished_early):
        _restore_backup(model, run_dir)
        history = read_history(run_dir)
        return FitResult(
            run_dir=run_dir,
            history=history,
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
    nan_guard = NaNGuard()
    budget = TimeBudget(max_train_minutes * 60.0) if max_train_minutes else None
    counter = _ImageCounter()
    callback_list: list = [nan_guard, counter]
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
            FiniteModelCheckpoint(
                str(run_dir / BEST_MODEL),
                monitor="val_loss",
                save_best_only=True,
                initial_value_threshold=_best_so_far(history_before, "val_loss"),
            )
        )
    callback_list += [
        FiniteModelCheckpoint(str(run_dir / LAST_MODEL), save_best_only=False),
        keras.callbacks.CSVLogger(str(run_dir / CSV_LOG), append=True),
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
    callback_list.append(
        SafeBackupAndRestore(str(run_dir / BACKUP_DIR), save_freq="epoch", delete_checkpoint=False)
    )
    callback_list += list(callbacks or [])

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
    try:
        model.fit(
            train_data,
            epochs=epochs,
            validation_data=validation_data,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            callbacks=callback_list,
            verbose=verbose,
            shuffle=False,  # tf.data pipelines shuffle themselves
        )
    finally:
        # BackupAndRestore sets the private start epoch on the model; a later
        # fit on the same model object must not inherit it.
        model._initial_epoch = None

    completed = _backup_epoch(run_dir)
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
    }
    _write_state(run_dir, new_state)

    if nan_guard.epoch is not None:
        if completed:
            _restore_backup(model, run_dir)
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
        extra={"time_budget_seconds": new_state["time_budget_seconds"]},
    )


def _write_state(run_dir: Path, state: dict[str, Any]) -> None:
    temporary = run_dir / (STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    temporary.replace(run_dir / STATE_FILE)


def _restore_backup(model: keras.Model, run_dir: Path) -> None:
    """Load the backup's weights (and optimizer state) into ``model``."""
    path = run_dir / BACKUP_DIR / "latest.weights.h5"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing although {run_dir / BACKUP_DIR} records finished epochs; "
            f"delete {run_dir} or call fit(..., resume=False) to start over"
        )
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(path))


# ---------------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------------
#: Panels of :func:`plot_history`: (title, training key); ``val_`` + key is drawn too.
HISTORY_PANELS = (
    ("total loss", "loss"),
    ("reconstruction loss (MSE)", "reconstruction_loss"),
    ("quantizer loss", "quantizer_loss"),
    ("perplexity", "perplexity"),
    ("codebook usage", "codebook_usage"),
    ("learning rate", "learning_rate"),
)


def plot_history(history: dict[str, list[float]], figure=None):
    """Training curves (and validation curves where logged), one panel per quantity.

    Args:
        history: ``{key: [value per epoch]}`` (e.g. ``FitResult.history`` or
            :func:`read_history`); missing keys are skipped.
        figure: a matplotlib figure to draw into (cleared), or ``None`` for a new one.

    Returns:
        The matplotlib figure. Losses use a log scale.
    """
    import matplotlib.pyplot as plt

    panels = [(title, key) for title, key in HISTORY_PANELS if history.get(key)]
    figure = figure or plt.figure(figsize=(4 * min(3, max(1, len(panels))), 6))
    figure.clear()
    columns = 3
    rows = max(1, math.ceil(len(panels) / columns))
    for index, (title, key) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, index + 1)
        values = history[key]
        epochs = np.arange(1, len(values) + 1)
        axis.plot(epochs, values, marker=".", label="train")
        if history.get(f"val_{key}") and key != "learning_rate":
            axis.plot(epochs, history[f"val_{key}"], marker=".", label="validation")
            axis.legend(fontsize=8)
        if "loss" in key or key == "learning_rate":
            positive = [value for value in values if _finite(value) and value > 0]
            if positive:
                axis.set_yscale("log")
        axis.set(title=title, xlabel="epoch")
    figure.tight_layout()
    return figure


class LivePlot(keras.callbacks.Callback):
    """Redraw :func:`plot_history` in a notebook after every epoch (live training curves).

    ``previous`` is the history of earlier calls (e.g. ``read_history(run_dir)``),
    so that a resumed run shows its whole past. Needs IPython; use it only in an
    interactive session (a headless run gets the static figure after training).
    """

    def __init__(self, previous: dict[str, list[float]] | None = None):
        super().__init__()
        self.history = {key: list(values) for key, values in (previous or {}).items()}
        self._figure = None
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        import matplotlib.pyplot as plt
        from IPython.display import display

        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self._figure is None:
            self._figure = plt.figure(figsize=(12, 6))
        plot_history(self.history, self._figure)
        if self._handle is None:
            self._handle = display(self._figure, display_id=True)
        else:
            self._handle.update(self._figure)

    def on_train_end(self, logs=None):
        import matplotlib.pyplot as plt

        if self._figure is not None:
            plt.close(self._figure)
