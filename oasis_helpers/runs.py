"""Run bookkeeping shared by every notebook: seeding, run directories,
``metrics.json``, atomic file writes and the choice of distribution strategy and precision.

What the notebooks rely on (the README's tour of the series): each notebook writes its
artifacts to ``run_dir/<notebook stem>/`` (:func:`notebook_dir`) and ends by writing
``metrics.json`` there (:func:`write_metrics`); a later notebook reads an earlier one's
artifacts through :func:`require_artifact` and :func:`load_saved_model`, whose errors say
which notebook to run first; notebooks 04 and 05 (and the benchmarks that read their
artifacts) load everything they need from earlier notebooks with :func:`load_series`. A
relative ``run_dir`` is taken from the repository root (:func:`resolve_run_dir`), not
from the notebook's folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

NOTEBOOK_STEMS = (
    "01_data_loader",
    "02_vector_quantizer",
    "03_train_vqvae",
    "04_pixelcnn_prior",
    "05_anomaly_detection",
)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and TensorFlow from one integer.

    Exactly what ``keras.utils.set_random_seed(seed)`` does: ``random.seed``,
    ``np.random.seed``, ``tf.random.set_seed`` (TensorFlow's global seed, from which
    its ops and ``tf.data`` shuffles draw) and a fresh global ``keras.random``
    generator. String hashing (``PYTHONHASHSEED``) is fixed when the interpreter
    starts and cannot be changed from inside it; nothing in the series depends on it.
    Code that draws its own randomness should still take ``seed`` explicitly
    (``np.random.default_rng(seed)``).
    """
    import keras

    keras.utils.set_random_seed(seed)


def notebook_dir(run_dir: str | os.PathLike, stem: str) -> Path:
    """Return ``run_dir/stem`` (created if missing): where one notebook's artifacts go."""
    path = Path(run_dir) / stem
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_artifact(run_dir: str | os.PathLike, stem: str, filename: str) -> Path:
    """Return the path of an artifact an earlier notebook wrote, or raise a clear error.

    Raises:
        FileNotFoundError: naming the missing file and the notebook that makes it.
    """
    path = Path(run_dir) / stem / filename
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run notebooks/{stem}.ipynb first with the same "
            f"run_dir ({run_dir!s}), e.g. `make run` or papermill with -p run_dir {run_dir!s}."
        )
    return path


def load_saved_model(path: str | os.PathLike, model_class: type, stem: str, compile: bool = True):
    """Load a ``.keras`` file that notebook ``stem`` saved, in safe mode, checking its class.

    ``keras.saving.load_model(path, safe_mode=True)``: no Python code is unpickled; the
    module defining ``model_class`` must be imported (it registers the classes).

    Raises:
        FileNotFoundError: ``path`` is missing (the message names the notebook that saves it).
        ValueError: the file holds another kind of model.
    """
    import keras

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run notebooks/{stem}.ipynb first (it saves "
            f"run_dir/{stem}/{path.name})"
        )
    model = keras.saving.load_model(path, safe_mode=True, compile=compile)
    if not isinstance(model, model_class):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a {model_class.__name__}")
    return model


def _to_json_ready(value: Any) -> Any:
    """Convert NumPy/TensorFlow scalars and arrays to plain Python for ``json.dump``."""
    if isinstance(value, dict):
        return {str(key): _to_json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return _to_json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------
# Atomic files: the one write-then-rename of the package
# ---------------------------------------------------------------------------------------------
def sync_to_disk(path: str | os.PathLike) -> None:
    """Flush a file (or folder entry) to disk; a no-op where the OS does not allow it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_replacement(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it replaces ``path``.

    The temporary file (``.<stem>.partial-<pid>-<thread><suffix>``, in the same folder,
    with the same suffix, so ``model.save`` and ``np.savez`` accept it) is flushed to
    disk and renamed over ``path`` with ``os.replace``, atomic on POSIX and Windows: a
    reader, or a process killed at any moment, sees the previous file or the new one,
    never half of one. If the block raises, the temporary file is removed and ``path``
    is left as it was. The folder is created if missing. Every file the package writes
    whole (``metrics.json``, models, ``codes.npz``, the demo cache, training state and
    logs) goes through here::

        with atomic_replacement(path) as temporary:
            model.save(temporary)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(
        f".{path.stem}.partial-{os.getpid()}-{threading.get_ident()}{path.suffix}"
    )
    try:
        yield temporary
        sync_to_disk(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_to_disk(path.parent)


def write_atomically(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` (text, or bytes) to ``path`` through :func:`atomic_replacement`.

    Text is written as given (no newline translation). Returns the path.
    """
    with atomic_replacement(path) as temporary:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            with temporary.open("w", newline="") as handle:
                handle.write(content)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, sort_keys: bool = False) -> Path:
    """Write ``data`` to ``path`` as indented JSON with a final newline; return the path.

    Atomic (:func:`write_atomically`): a failed or interrupted write leaves the previous
    file whole. The folder is created if missing. ``data`` must already be JSON-ready
    (plain Python; :func:`write_metrics` converts NumPy values first); benchmarks write
    their reports with it.
    """
    return write_atomically(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


def write_metrics(run_dir: str | os.PathLike, stem: str, metrics: dict[str, Any]) -> Path:
    """Write ``run_dir/stem/metrics.json`` (NumPy values converted, NaN as null).

    In a multi-worker cluster (``TF_CONFIG``) only the chief writes; the other
    workers return the path without touching it (``distributed.is_chief``).
    """
    from oasis_helpers import distributed

    path = Path(run_dir) / stem / "metrics.json"
    if not distributed.is_chief():
        return path
    return write_json(notebook_dir(run_dir, stem) / "metrics.json", _to_json_ready(metrics), True)


def save_model(model, path: str | os.PathLike) -> Path:
    """``model.save(path)`` (a ``.keras`` file) on the chief only, written then renamed.

    In a multi-worker cluster (``TF_CONFIG``) every worker holds the same weights, and
    the workers would otherwise write the same file at once; the others return the path
    without touching it (``distributed.is_chief``). The model goes to a temporary file
    beside ``path`` first (:func:`atomic_replacement`), so a reader never sees a
    half-written model.
    """
    from oasis_helpers import distributed

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a Keras model file must end in .keras")
    if not distributed.is_chief():
        return path
    with atomic_replacement(path) as temporary:
        model.save(temporary)
    return path


def read_metrics(run_dir: str | os.PathLike, stem: str) -> dict[str, Any]:
    """Read the ``metrics.json`` an earlier notebook wrote (clear error when missing)."""
    return json.loads(require_artifact(run_dir, stem, "metrics.json").read_text())


class SeriesArtifacts(NamedTuple):
    """What earlier notebooks left in ``run_dir`` for a later one, loaded by :func:`load_series`.

    Attributes:
        grids: notebook 03's code grids (``code_grids.CodeGrids``, from ``codes.npz``).
        vqvae: notebook 03's VQ-VAE (``models.VQVAE``).
        prior: notebook 04's prior (``prior.GatedPixelCNN``, loaded without compiling), or
            ``None`` for a notebook that comes before it.
        source: the slices (``data.SliceSource``), loaded as notebook 03 loaded them, so
            that grid *n* of a split is slice *n* of that split.
    """

    grids: Any
    vqvae: Any
    prior: Any
    source: Any


#: For each notebook that reads earlier notebooks' models: the notebooks it needs, in the
#: order to run them, and what its error message says it needs.
SERIES_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "04_pixelcnn_prior": (("03_train_vqvae",), "notebook 03's model and codes"),
    "05_anomaly_detection": (
        ("03_train_vqvae", "04_pixelcnn_prior"),
        "notebook 03's VQ-VAE and codes and notebook 04's prior",
    ),
}


def load_series(
    run_dir: str | os.PathLike,
    upto: str,
    *,
    data_dir: str | os.PathLike | None,
    seed: int,
    smoke: bool = False,
    image_size: int | None = None,
    with_masks: bool = False,
) -> SeriesArtifacts:
    """Load what notebook ``upto`` needs from earlier notebooks, checking that it fits.

    Notebook 04 needs notebook 03's code grids and VQ-VAE; notebook 05 needs those and
    notebook 04's prior (:data:`SERIES_NEEDS`). Both need the slices that notebook 03
    encoded: they are loaded again with ``data.load_slices(data_dir, image_size, seed,
    smoke)``, which must give as many slices per split as there are code grids.

    Args:
        run_dir: the series' run folder (as :func:`resolve_run_dir` gives it).
        upto: the reading notebook, ``"04"`` or ``"05"`` (or its whole stem).
        data_dir, seed, smoke: the reading notebook's parameters; they must be those that
            notebook 03 ran with (``data_dir=None``: the demo cohort).
        image_size: the reading notebook's ``image_size``, which must be notebook 03's;
            ``None`` takes notebook 03's (a benchmark reading a run).
        with_masks: load the slices' tissue masks too (notebook 04's anatomy judge learns
            them where the data has them).

    Returns:
        :class:`SeriesArtifacts` (``prior`` is ``None`` for notebook 04).

    Raises:
        FileNotFoundError: an artifact is missing; the message says which notebooks to run
            first, in order, with this ``run_dir``.
        ValueError: ``upto`` reads no earlier models; ``image_size`` is not notebook 03's
            (the message gives the right one); or the slices do not match the code grids
            (another ``data_dir``, ``seed`` or ``smoke`` than notebook 03's).
    """
    from oasis_helpers import code_grids, data, models

    stems = [stem for stem in SERIES_NEEDS if stem == upto or stem.startswith(f"{upto}_")]
    if len(stems) != 1:
        raise ValueError(
            f"upto must name a notebook that reads earlier models: one of "
            f"{sorted(SERIES_NEEDS)} (or its number), got {upto!r}"
        )
    stem = stems[0]
    needed, what = SERIES_NEEDS[stem]
    try:
        grids = code_grids.load_codes(run_dir)
        vqvae = models.load_vqvae(require_artifact(run_dir, "03_train_vqvae", models.VQVAE_FILE))
        prior_model = None
        if "04_pixelcnn_prior" in needed:
            from oasis_helpers import prior

            path = require_artifact(run_dir, "04_pixelcnn_prior", prior.PRIOR_FILE)
            prior_model = prior.load_prior(path, compile=False)
    except FileNotFoundError as error:
        notebooks = " and then ".join(f"notebooks/{name}.ipynb" for name in needed)
        raise FileNotFoundError(
            f"notebook {stem[:2]} needs {what}: run {notebooks} first with "
            f"run_dir={run_dir!s}. ({error})"
        ) from None
    if image_size is not None and grids.image_size != image_size:
        raise ValueError(
            f"image_size={image_size} but notebook 03 made its codes at {grids.image_size}: "
            f"use image_size={grids.image_size}"
        )
    source = data.load_slices(
        data_dir, image_size=grids.image_size, seed=seed, smoke=smoke, with_masks=with_masks
    )
    for name, split in source.splits.items():
        if name in grids.splits and len(split) != len(grids[name]):
            raise ValueError(
                "the slices do not match notebook 03's codes (different data_dir or smoke?): "
                "run notebook 03 again with the same data_dir, image_size, seed and smoke"
            )
    return SeriesArtifacts(grids, vqvae, prior_model, source)


def select_strategy(mixed_precision: str | bool = "auto"):
    """Pick the ``tf.distribute`` strategy and precision policy for this machine.

    * ``TF_CONFIG`` set in the environment: ``MultiWorkerMirroredStrategy`` (training
      on several processes or machines; see :mod:`oasis_helpers.distributed`).
    * more than one GPU: ``MirroredStrategy`` over all of them.
    * otherwise: the default strategy (one GPU or the CPU).

    ``mixed_precision``: ``"auto"`` turns on ``mixed_float16`` when a GPU is
    visible and leaves float32 on the CPU (where float16 is slower);
    ``True``/``False`` force it on or off.

    Several workers: start the same program on every machine, each with the same
    ``TF_CONFIG`` cluster (``{"cluster": {"worker": ["host1:port", "host2:port"]},
    "task": {"type": "worker", "index": i}}``) and a ``run_dir`` on a file system
    they share, and call this function before any other TensorFlow work.
    :func:`oasis_helpers.training.fit` then lets only the chief (worker 0, or the
    ``"chief"`` task) write the run's files, reads the budget from the chief's
    clock and stops every worker at the same step; ``batch_size`` is the global
    batch. Under this strategy Keras 3.15 needs
    :func:`oasis_helpers.distributed.enable_keras_multi_worker` (installed here) and
    datasets that yield images only.

    Returns:
        ``(strategy, policy_name)``.

    Raises:
        ValueError: ``mixed_precision`` is not ``"auto"``, ``True`` or ``False``, or
            ``TF_CONFIG`` does not describe a cluster with this task in it.
        RuntimeError: ``TF_CONFIG`` is set but TensorFlow already ran an operation in
            this process (collectives must be configured at program start).
    """
    import keras
    import tensorflow as tf

    from oasis_helpers import distributed

    if mixed_precision != "auto" and not isinstance(mixed_precision, bool):
        raise ValueError(f"mixed_precision must be 'auto', True or False, got {mixed_precision!r}")
    _, task_type, _ = distributed.cluster_tasks()  # validates TF_CONFIG (clear errors)
    if task_type is not None:
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise RuntimeError(
                f"TF_CONFIG is set, so select_strategy creates a MultiWorkerMirroredStrategy, "
                f"which must happen before TensorFlow runs any operation in this process "
                f"({error}). Call select_strategy first (e.g. in a fresh kernel), or unset "
                f"TF_CONFIG to train on this machine alone."
            ) from error
        distributed.enable_keras_multi_worker()
    gpus = tf.config.list_physical_devices("GPU")
    if task_type is None:
        strategy = (
            tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
        )

    use_mixed = bool(gpus) if mixed_precision == "auto" else mixed_precision
    policy_name = "mixed_float16" if use_mixed else "float32"
    keras.mixed_precision.set_global_policy(policy_name)
    return strategy, policy_name


def describe_environment() -> dict[str, str]:
    """Versions of the libraries the series depends on, for the notebooks' opening printout."""
    import importlib.metadata as metadata

    names = ["tensorflow", "keras", "tensorflow-probability", "numpy", "nibabel", "nilearn"]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what :mod:`platform` says)."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> dict[str, object]:
    """What a benchmark's JSON records of the machine it ran on: platform, CPU model and
    cores, ``TF_ENABLE_ONEDNN_OPTS`` (``"(unset)"``: TensorFlow's own choice), Python and
    the 1/5/15-minute load averages at the call (other work slows every timing)."""
    import platform

    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset)"),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def project_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml`` above this package).

    Falls back to the current directory when the package is installed elsewhere.
    """
    from oasis_helpers.data.layouts import repository_root

    return repository_root() or Path.cwd()


def resolve_run_dir(run_dir: str | os.PathLike) -> Path:
    """Make a relative ``run_dir`` relative to the repository root, not to the notebook.

    JupyterLab starts a notebook's kernel in ``notebooks/`` while ``make run``
    starts it in the repository root; resolving against the root makes both
    write to the same ``runs/`` folder.
    """
    path = Path(run_dir).expanduser()
    return path if path.is_absolute() else project_root() / path
