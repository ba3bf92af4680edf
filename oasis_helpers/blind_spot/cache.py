"""Trained blind-spot models kept per configuration: :func:`train_or_load`, :func:`load_trained`.

Each configuration (every setting, the codebook size, the grid, the seed and a fingerprint
of the training codes and heights: :func:`run_configuration`) has a folder of its own,
``training.config_run_dir(base_dir, ...)``, holding ``config.json``, :data:`MODEL_FILE`
and :data:`RECORD_FILE`; notebook 05 keeps them under :data:`MODEL_DIR`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from oasis_helpers.blind_spot.configuration import MODEL_SETTINGS, configuration
from oasis_helpers.blind_spot.model import (
    load_blind_spot_model,
    make_blind_spot_model,
    model_inputs,
    train_blind_spot_model,
)
from oasis_helpers.code_location import check_slice_heights

__all__ = [
    "MODEL_DIR",
    "MODEL_FILE",
    "RECORD_FILE",
    "load_trained",
    "run_configuration",
    "train_or_load",
]


#: Where notebook 05 keeps its blind-spot models, one folder per configuration:
#: ``run_dir/05_anomaly_detection/blind_spot/<8 hex digits>/``.
MODEL_DIR = "blind_spot"

#: The model file inside a configuration's folder.
MODEL_FILE = "blind_spot.keras"

#: The record inside a configuration's folder: the configuration and the training history.
RECORD_FILE = "blind_spot.json"


def _fingerprint(codes, slice_heights) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(codes, np.int32).tobytes())
    digest.update(check_slice_heights(slice_heights, len(codes)).tobytes())
    return digest.hexdigest()[:16]


def _configuration_parts(
    num_embeddings: int, train_codes: np.ndarray, train_slice_heights, config, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_config, settings)`` for ``training.config_run_dir``.

    The blind-spot model trains in one call and never resumes, so every setting of its
    configuration, ``epochs`` included, goes into the first part (``config_run_dir`` drops
    ``epochs`` from the second, where raising it continues a run of ``training.fit``).
    """
    model_config = {
        "num_embeddings": int(num_embeddings),
        "grid": list(train_codes.shape[1:]),
        **configuration(config),
    }
    settings = {"seed": int(seed), "codes": _fingerprint(train_codes, train_slice_heights)}
    return model_config, settings


def run_configuration(
    num_embeddings: int,
    train_codes: npt.ArrayLike,
    train_slice_heights: npt.ArrayLike,
    config=None,
    seed: int = 0,
) -> dict[str, Any]:
    """The configuration that identifies a trained blind-spot model, as stored with it.

    ``{"model": {num_embeddings, grid, and every setting of configuration(config)},
    "settings": {seed, codes}}`` (``training.run_configuration``, JSON-normalised), where
    ``codes`` is a SHA-256 fingerprint of the training codes and heights.
    """
    from oasis_helpers import training

    train_codes = np.asarray(train_codes, np.int32)
    return training.run_configuration(
        *_configuration_parts(num_embeddings, train_codes, train_slice_heights, config, seed)
    )


def load_trained(
    folder: str | os.PathLike, expected: dict[str, Any] | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """Load the model that :func:`train_or_load` saved in ``folder``, with its record.

    Args:
        folder: a configuration's folder (``base_dir/<8 hex digits>``).
        expected: the configuration the caller expects (:func:`run_configuration`), or
            None to load whatever the folder holds.

    Returns:
        ``(model, record)``; ``record`` holds ``"configuration"``, ``"config"`` (the
        blind-spot settings) and ``"history"`` as stored.

    Raises:
        FileNotFoundError: the folder holds no trained model.
        oasis_helpers.training.ConfigMismatchError: the folder's configuration is not
            ``expected`` (each differing setting listed, stored -> expected), or its record
            is not JSON.
    """
    from oasis_helpers import training

    folder = Path(folder)
    record_path, model_path = folder / RECORD_FILE, folder / MODEL_FILE
    if not record_path.exists() or not model_path.exists():
        raise FileNotFoundError(
            f"{folder} holds no trained blind-spot model ({MODEL_FILE} and {RECORD_FILE}): "
            "blind_spot.train_or_load trains one (notebook 05 does)"
        )
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as error:
        raise training.ConfigMismatchError(
            f"{record_path} is not valid JSON ({error}): delete {folder} to train again"
        ) from error
    if expected is not None:
        differences = training.configuration_differences(
            record["configuration"], training.json_normalised(expected)
        )
        if differences:
            raise training.ConfigMismatchError(
                f"{folder} holds a blind-spot model of another configuration, so it is not "
                f"loaded. Differing settings (stored -> expected):\n"
                f"{training.format_differences(differences)}\n"
                "blind_spot.train_or_load(base_dir, ...) gives each configuration a folder "
                "of its own under base_dir.",
                differences,
            )
    return load_blind_spot_model(model_path), record


def train_or_load(
    base_dir: str | os.PathLike,
    num_embeddings: int,
    train_codes: npt.ArrayLike,
    train_slice_heights: npt.ArrayLike,
    validation_codes: npt.ArrayLike | None = None,
    validation_slice_heights: npt.ArrayLike | None = None,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a blind-spot model on healthy grids, or load the one trained before with the
    same configuration on the same codes.

    ``config`` holds any settings of :data:`DEFAULT_BLIND_SPOT` to change (the others keep
    their defaults; :func:`configuration`). Each configuration has a folder of its own,
    ``training.config_run_dir(base_dir, ...)``, keyed by :func:`run_configuration`: every
    blind-spot setting, the codebook size, the grid size, the seed and a SHA-256
    fingerprint of the training codes and heights. The folder holds ``config.json``, the
    model (:data:`MODEL_FILE`) and a record of the configuration and the per-epoch losses
    (:data:`RECORD_FILE`, written last, so a folder without it is trained again). So
    changing any setting, or re-running notebook 03 or 04 (new codes), trains a new model
    in a new folder, and changing it back loads the old one.

    Returns:
        ``(model, record)``: ``record`` holds ``"configuration"``, ``"config"`` (the full
        blind-spot settings), ``"history"`` (the per-epoch losses in nats, stored with
        the model), ``"folder"`` and ``"loaded"`` (True when nothing was trained).

    Raises:
        ValueError: an unknown setting, a value out of range, or slice heights missing or
            outside ``[0, 1]`` (before any work).
        oasis_helpers.training.ConfigMismatchError: the folder of this configuration
            holds a record of another one (edited or copied by hand); nothing is loaded
            or overwritten.
    """
    from oasis_helpers import runs, training

    base_dir = Path(base_dir)
    if base_dir.suffix == ".keras":
        raise ValueError(
            f"{base_dir}: train_or_load takes the folder that holds one sub-folder per "
            f"configuration (e.g. run_dir/05_anomaly_detection/{MODEL_DIR}), not a model file"
        )
    train_codes = np.asarray(train_codes, np.int32)
    if train_codes.ndim != 3 or train_codes.shape[1] != train_codes.shape[2]:
        raise ValueError(f"train_codes must be square grids [N, h, h], got {train_codes.shape}")
    if validation_codes is not None:  # the heights are checked before any work (the
        # training ones by the fingerprint of _configuration_parts)
        model_inputs(validation_codes, validation_slice_heights)
    config = configuration(config)
    model_config, settings = _configuration_parts(
        num_embeddings, train_codes, train_slice_heights, config, seed
    )
    expected = training.run_configuration(model_config, settings)
    folder = training.config_run_dir(base_dir, model_config, settings)
    if (folder / RECORD_FILE).exists() and (folder / MODEL_FILE).exists():
        model, record = load_trained(folder, expected)
        return model, {**record, "folder": str(folder), "loaded": True}
    keras.utils.set_random_seed(int(seed))
    model = make_blind_spot_model(
        num_embeddings,
        train_codes.shape[1],
        **{name: config[name] for name in MODEL_SETTINGS},
    )
    start = time.perf_counter()
    history = train_blind_spot_model(
        model,
        train_codes,
        train_slice_heights,
        validation_codes,
        validation_slice_heights,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        verbose=0,
    )
    record = {
        "configuration": expected,
        "config": training.json_normalised(config),
        "history": history,
        "train_seconds": time.perf_counter() - start,
    }
    runs.save_model(model, folder / MODEL_FILE)
    runs.write_json(folder / RECORD_FILE, record)
    return model, {**record, "folder": str(folder), "loaded": False}
