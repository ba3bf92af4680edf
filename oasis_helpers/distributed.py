"""Training on several machines: one writer, one clock, one stop decision.

With ``TF_CONFIG`` set, :func:`oasis_helpers.runs.select_strategy` returns a
``tf.distribute.MultiWorkerMirroredStrategy``: every worker runs the same program,
every training step all-reduces the gradients, and the variables stay equal on
all workers. Three things must then be decided once rather than by each worker:

* **who writes.** Only the *chief* (the task of type ``"chief"``, or worker 0 when
  the cluster has no chief: :func:`is_chief`) writes the run's files (checkpoints,
  logs, ``training_state.json``, ``run_config.json``, ``metrics.json``). Every other
  worker trains in a private copy of the run folder (:func:`worker_run_dir`): a
  folder under the system's temporary directory, seeded with the chief's files so
  that it resumes from the chief's backup exactly as the chief does, and deleted
  when the process ends (its ``FitResult.run_dir`` names that folder).
  ``runs.write_metrics`` writes on the chief only.
* **what time it is.** A time budget read from each worker's own clock would stop
  the workers at different steps, and a worker left alone in a collective waits for
  ever. :class:`ChiefClock` makes every worker read the *chief's* clock (one
  all-reduce per reading), so the budget's decisions and the cosine schedule's time
  progress are the same numbers everywhere.
* **when to stop.** :class:`ChiefStops`, the last callback of ``fit``, replaces
  ``model.stop_training`` after every step and every epoch by the chief's value, so
  whatever stops training (the time budget, early stopping, the NaN guard, a user's
  callback) stops every worker at the same step.

Requirements (documented limits):

* ``run_dir`` is the same path on every worker and on a file system that every
  worker can read (the non-chief workers copy the chief's backup from it to resume).
* Every worker calls :func:`oasis_helpers.training.fit` with the same arguments; the
  datasets yield images only (Keras 3.15's multi-worker ``fit`` fails on
  ``(x, y)`` tuples in its symbolic build), and ``batch_size`` is the global batch,
  split over ``strategy.num_replicas_in_sync`` replicas.
* Variables that a layer assigns in a training step (not through the optimizer) must
  get the same value on every worker. ``aggregation="only_first_replica"`` takes the
  value of each *worker's* first replica, so a value computed from the worker's own
  batch (the quantizer's k-means++ initialisation and dead-code restarts) must first
  be taken from replica 0 of the whole cluster (``replica_id_in_sync_group == 0``,
  e.g. by an all-reduce of that replica's value and zeros elsewhere).
  ``tests/test_distributed.py`` compares every weight of the two workers.
* Keras 3.15 cannot run ``fit`` under ``MultiWorkerMirroredStrategy`` at all as
  shipped: its ``reduce_per_replica`` reduces the scalar logs of each step with
  ``strategy.reduce("MEAN", value, axis=0)``, which raises ``ValueError: Invalid
  reduction dimension 0 for input with 0 dimensions`` (tensorflow/tensorflow#72388,
  closed without a fix). :func:`enable_keras_multi_worker` replaces that function
  by one that reduces scalars with ``axis=None`` (the same mean over replicas);
  :func:`worker_run_dir` and ``select_strategy`` call it.

All helpers take the strategy (``model.distribute_strategy``); with any strategy
other than a multi-worker one they do nothing and cost nothing, so single-machine
training is unchanged.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

__all__ = [
    "ChiefClock",
    "ChiefStops",
    "agree",
    "chief_value",
    "cluster_tasks",
    "enable_keras_multi_worker",
    "is_chief",
    "is_multi_worker",
    "synchronise_callbacks",
    "worker_run_dir",
]

#: Environment variable that describes the cluster (``tf.distribute`` convention).
TF_CONFIG = "TF_CONFIG"
#: Task types that train (an ``"evaluator"`` or ``"ps"`` task does not).
TRAINING_TASKS = ("chief", "worker")
#: Files and folders of the run folder that a non-chief worker does not copy.
_NOT_COPIED = ("tensorboard", ".*")

_private_folders: set[Path] = set()


# ---------------------------------------------------------------------------------------------
# Who is who
# ---------------------------------------------------------------------------------------------
def _tf_config() -> dict[str, Any]:
    """``TF_CONFIG`` parsed, ``{}`` when unset; a clear error when it is not valid."""
    text = os.environ.get(TF_CONFIG, "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{TF_CONFIG} is not valid JSON ({error}): {text!r}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{TF_CONFIG} must be a JSON object, got {text!r}")
    return config


def cluster_tasks(strategy=None) -> tuple[dict[str, list[str]], str | None, int]:
    """``(cluster, task_type, task_index)`` of this process.

    Taken from the strategy's cluster resolver when it has one (a
    ``MultiWorkerMirroredStrategy``), otherwise from ``TF_CONFIG``. ``cluster``
    maps task types to their addresses (``{}`` without a cluster); ``task_type``
    is ``None`` outside a cluster.

    Raises:
        ValueError: ``TF_CONFIG`` is not valid JSON, has no ``cluster`` with a
            ``worker`` or ``chief`` entry, or its ``task`` is not one of them.
    """
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is not None and resolver.task_type is not None:
        cluster = dict(resolver.cluster_spec().as_dict())
        cluster = {key: list(value) for key, value in cluster.items()}
        return cluster, resolver.task_type, int(resolver.task_id or 0)
    config = _tf_config()
    if not config:
        return {}, None, 0
    cluster = config.get("cluster") or {}
    if not isinstance(cluster, dict) or not any(cluster.get(kind) for kind in TRAINING_TASKS):
        raise ValueError(
            f"{TF_CONFIG} needs a 'cluster' with a 'worker' (or 'chief') list of host:port "
            f"addresses, got {cluster!r}"
        )
    task = config.get("task") or {}
    task_type = task.get("type")
    task_index = task.get("index", 0)
    known = sorted(kind for kind in cluster if cluster.get(kind))
    if task_type not in cluster or not isinstance(task_index, int):
        raise ValueError(
            f"{TF_CONFIG}'s 'task' must name this process as one of {known} with an integer "
            f"index, got {task!r}"
        )
    if not 0 <= task_index < len(cluster[task_type]):
        raise ValueError(
            f"{TF_CONFIG}'s task index {task_index} is out of range for the "
            f"{len(cluster[task_type])} '{task_type}' address(es) of the cluster"
        )
    return {key: list(value) for key, value in cluster.items()}, task_type, task_index


def is_multi_worker(strategy) -> bool:
    """Whether ``strategy`` spans several processes (a multi-worker
    ``MultiWorkerMirroredStrategy``); ``False`` for ``None`` and every other strategy."""
    if strategy is None:
        return False
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster, _, _ = cluster_tasks(strategy)
    return sum(len(cluster.get(kind, [])) for kind in TRAINING_TASKS) > 1


def is_chief(strategy=None) -> bool:
    """Whether this process writes the run's files.

    ``True`` outside a cluster; in a cluster, for the task of type ``"chief"``, or
    for worker 0 when the cluster has no chief. Without ``strategy`` the answer
    comes from ``TF_CONFIG`` (so code that holds no strategy, such as
    ``runs.write_metrics``, can ask too).
    """
    cluster, task_type, task_index = cluster_tasks(strategy)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and task_index == 0 and not cluster.get("chief")


# ---------------------------------------------------------------------------------------------
# Collectives
# ---------------------------------------------------------------------------------------------
def _all_reduce(value: float, strategy, reduce_op: str) -> float:
    """All-reduce one float over every replica of every worker (an eager collective).

    Each worker contributes ``value`` from each of its replicas. Every worker must
    call this at the same point of the program, or the collective waits for ever.
    """
    import tensorflow as tf

    per_replica = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(float(value), tf.float64)
    )
    return float(strategy.reduce(reduce_op, per_replica, axis=None))


def chief_value(value: float, strategy) -> float:
    """The chief's ``value`` on every worker (``value`` itself without a cluster).

    Every worker contributes its value on the chief's replicas and 0 elsewhere;
    the sum over replicas, divided by the chief's replica count, is the chief's
    value. Collective: call it at the same point on every worker.
    """
    if not is_multi_worker(strategy):
        return float(value)
    mine = float(value) if is_chief(strategy) else 0.0
    local_replicas = len(strategy.extended.worker_devices)
    return _all_reduce(mine, strategy, "SUM") / local_replicas


def agree(flag: bool, strategy) -> bool:
    """The chief's decision ``flag``, on every worker: one decision, taken once.

    Collective (see :func:`chief_value`); without a cluster it returns ``flag``.
    """
    return chief_value(1.0 if flag else 0.0, strategy) > 0.5


def _barrier(strategy) -> None:
    """Return on no worker before every worker has called it."""
    _all_reduce(0.0, strategy, "SUM")


class ChiefClock:
    """A clock that reads the chief's ``local_clock`` on every worker.

    Calling it is a collective (one all-reduce): every worker must read it at the
    same points, as the callbacks of ``fit`` do. Without a cluster it is
    ``local_clock`` itself.
    """

    def __init__(self, strategy, local_clock: Callable[[], float] = time.perf_counter):
        self.strategy = strategy
        self.local_clock = local_clock

    def __call__(self) -> float:
        return chief_value(self.local_clock(), self.strategy)


class ChiefStops(keras.callbacks.Callback):
    """Make the chief's ``model.stop_training`` every worker's, after every step and epoch.

    Put it last in the callback list: the decisions of the callbacks before it
    (time budget, early stopping, NaN guard, ...) are taken on every worker, and
    this one replaces them by the chief's, so the training loop of every worker
    breaks after the same step. One all-reduce per step and per epoch.
    """

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = agree(self.model.stop_training, self.strategy)

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = agree(self.model.stop_training, self.strategy)


def synchronise_callbacks(callbacks: list, strategy) -> list:
    """``callbacks`` made safe for multi-worker training (unchanged without a cluster).

    Every :class:`~oasis_helpers.callbacks.TimeBudget` among them reads the chief's
    clock (:class:`ChiefClock`), and :class:`ChiefStops` is appended last.
    """
    if not is_multi_worker(strategy):
        return list(callbacks)
    from oasis_helpers.callbacks import TimeBudget

    for callback in callbacks:
        if isinstance(callback, TimeBudget):
            callback.clock = ChiefClock(strategy, type(callback).clock)
    return [*callbacks, ChiefStops(strategy)]


# ---------------------------------------------------------------------------------------------
# Where each worker writes
# ---------------------------------------------------------------------------------------------
def _private_folder(run_dir: Path, strategy) -> Path:
    _, task_type, task_index = cluster_tasks(strategy)
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"oasis-{task_type}{task_index}-{os.getpid()}-{digest}"


def _remove_private_folders() -> None:
    for folder in list(_private_folders):
        shutil.rmtree(folder, ignore_errors=True)
        _private_folders.discard(folder)


def worker_run_dir(run_dir: str | os.PathLike, strategy, resume: bool = True) -> Path:
    """The folder this worker's training writes to: ``run_dir`` for the chief.

    Without a cluster, and on the chief, this is ``run_dir``. On any other worker
    it is a private folder under ``tempfile.gettempdir()`` that holds a copy of the
    chief's ``run_dir`` (without TensorBoard logs; nothing when ``resume`` is
    false), so that the worker reads the same configuration, state and backup as
    the chief and resumes from the same epoch with the same weights. Its writes
    stay there; the folder is deleted when the process exits.

    Collective in a cluster: every worker calls it at the start of ``fit``, and no
    worker returns before every worker has copied what it needs (the chief changes
    nothing in ``run_dir`` before that). Also installs
    :func:`enable_keras_multi_worker`.
    """
    run_dir = Path(run_dir)
    if not is_multi_worker(strategy):
        return run_dir
    enable_keras_multi_worker()
    if is_chief(strategy):
        _barrier(strategy)
        return run_dir
    private = _private_folder(run_dir, strategy)
    shutil.rmtree(private, ignore_errors=True)
    if resume and run_dir.is_dir():
        shutil.copytree(run_dir, private, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    private.mkdir(parents=True, exist_ok=True)
    if not _private_folders:
        atexit.register(_remove_private_folders)
    _private_folders.add(private)
    _barrier(strategy)
    return private


# ---------------------------------------------------------------------------------------------
# Keras 3.15 under MultiWorkerMirroredStrategy
# ---------------------------------------------------------------------------------------------
def enable_keras_multi_worker() -> None:
    """Let Keras 3's TensorFlow trainer reduce scalar logs across workers (idempotent).

    Keras 3.15's ``reduce_per_replica`` reduces each value a training or test step
    returns with ``strategy.reduce("MEAN", value, axis=0)`` under a multi-worker
    strategy; the values are scalars (loss, metrics), so every step fails with
    ``ValueError: Invalid reduction dimension 0 for input with 0 dimensions``
    (tensorflow/tensorflow#72388). The replacement reduces scalars with
    ``axis=None`` (the mean over all replicas, as Keras means) and leaves every
    other case to the original function.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_oasis_multi_worker", False):
        return
    import tensorflow as tf
    from keras.src import tree

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        multi_worker = trainer._collective_all_reduce_multi_worker(strategy)
        if not multi_worker or reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce_one(value):
            first = value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value
            axis = 0 if getattr(first.shape, "rank", 0) else None
            return strategy.reduce("MEAN", value, axis=axis)

        return tree.map_structure(reduce_one, values)

    reduce_per_replica._oasis_multi_worker = True
    trainer.reduce_per_replica = reduce_per_replica
