"""A run's configuration, the folder it is filed under, and the check that a run folder holds
the configuration asked to resume.

Keras' ``BackupAndRestore`` restores weights by variable position and knows nothing of
the configuration that made them. Here a run records its configuration (the model's
``get_config()`` and the caller's data and training ``settings``) in
``run_config.json``. Re-running :func:`~oasis_helpers.training.fitting.fit` with
``resume=True`` on the same ``run_dir`` first compares the configuration it is asked to
train with that file. When they differ it raises :class:`ConfigMismatchError` before
loading anything, listing each differing setting (stored -> requested): a checkpoint of
another configuration is never loaded into the model, nor reported as done.

``epochs`` and ``max_train_minutes`` are not part of the configuration
(:data:`RESUMABLE_SETTINGS`: raise them to continue a run). :func:`config_run_dir` gives
each configuration a folder of its own, named by a hash of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from oasis_helpers.callbacks import backup_epochs
from oasis_helpers.runs import write_atomically
from oasis_helpers.training.run_files import BACKUP_DIR, CONFIG_FILE, RUN_CONFIG

#: Settings that may change between calls on one run (raise them to train on).
RESUMABLE_SETTINGS = ("epochs", "max_train_minutes")


class ConfigMismatchError(ValueError):
    """``run_dir`` holds a run of another configuration than the one asked to resume.

    ``differences`` maps each differing setting (``"model.num_embeddings"``,
    ``"settings.crop_size"``...) to ``(stored, requested)``; it is empty when the folder's
    configuration cannot be read (a backup without ``run_config.json``, invalid JSON).
    """

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any]] | None = None):
        super().__init__(message)
        self.differences = dict(differences or {})


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


def check_run_dir(run_dir: Path, configuration: dict[str, Any]) -> None:
    """Raise :class:`ConfigMismatchError` when ``run_dir`` holds another configuration.

    A folder with no configuration file passes, unless it holds a backup (the file was
    deleted since); :func:`oasis_helpers.training.fit` calls this before it loads anything.
    """
    fresh = (
        "Start fresh with fit(..., resume=False) (this deletes the run in that folder), or "
        "train into another run_dir, e.g. training.config_run_dir(base_dir, model_config, "
        "settings), which gives each configuration a folder of its own."
    )
    path = run_dir / RUN_CONFIG
    if not path.exists():
        # fit writes run_config.json before the first backup: it was deleted since
        if backup_epochs(run_dir / BACKUP_DIR):
            raise ConfigMismatchError(
                f"{run_dir} holds a training backup but no {RUN_CONFIG}, so it is unknown "
                f"which configuration it belongs to and it cannot be resumed safely. {fresh}"
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
