"""The series' training settings: the defaults (:data:`DEFAULT_TRAINING`), training with
the settings that a run is filed under (:func:`fit_with_settings`), and training in the
folder of a configuration, as notebooks 03 and 04 and notebook 03's widget do
(:func:`train_in_run_dir`).
"""

from __future__ import annotations

import os
from typing import Any

import keras

from oasis_helpers.training.configuration import config_run_dir
from oasis_helpers.training.fitting import FitResult, fit
from oasis_helpers.training.run_files import read_history

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


def train_in_run_dir(
    model: keras.Model,
    train_data,
    base_dir: str | os.PathLike,
    model_config: dict,
    settings: dict,
    *,
    interactive: bool = False,
    **options,
) -> FitResult:
    """Train ``model`` in the folder of its configuration under ``base_dir``.

    The folder is :func:`config_run_dir` ``(base_dir, model_config, settings)``: one per
    configuration, so the same configuration resumes its run (``resume=True``, the
    default of :func:`fit`) and another one gets a folder of its own. The training is
    :func:`fit_with_settings` with ``settings``. ``result.requested_run_dir`` is the
    folder (the notebooks report it relative to their ``run_dir``).

    Args:
        model: a compiled, built Keras model.
        train_data: as :func:`fit`.
        base_dir: the folder of the configurations' folders (e.g. ``out_dir / "training"``).
        model_config: the model's settings that name the folder (notebook 03: the keyword
            arguments of ``models.make_vqvae``; notebook 04: ``model.get_config()``).
        settings: the run's data and training settings (:func:`fit_with_settings`).
        interactive: a notebook someone watches: a ``plots.LivePlot`` of the history (the
            earlier calls' epochs included) redrawn after each epoch, and Keras' progress
            bar (``verbose=1``); otherwise one line per epoch (``verbose=2``), no figure.
        **options: the other arguments of :func:`fit_with_settings` (``validation_data``,
            ``resume``, ``early_stopping_patience``, ``max_train_minutes``, ``verbose``,
            ``callbacks``: run after the live plot, ...).

    Returns:
        The :class:`FitResult` of :func:`fit`.
    """
    folder = config_run_dir(base_dir, model_config, settings)
    callbacks = list(options.pop("callbacks", None) or [])
    if interactive:
        from oasis_helpers.plots import LivePlot  # only plots draw

        callbacks.insert(0, LivePlot(read_history(folder)))
    options.setdefault("verbose", 1 if interactive else 2)
    return fit_with_settings(model, train_data, folder, settings, callbacks=callbacks, **options)
