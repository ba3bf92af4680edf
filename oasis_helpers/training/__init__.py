"""Training that a user can trust: resume that knows what it resumes, checkpoints that
survive a kill at any moment, logs, a NaN guard, a learning-rate schedule, early
stopping and a wall-clock budget.

:func:`fit` wraps ``model.fit`` with the callbacks of :mod:`oasis_helpers.callbacks`, all
writing into one ``run_dir``, which records the configuration it was trained with: a
run of another configuration is never resumed. :func:`config_run_dir` gives each
configuration a folder of its own; :func:`fit_with_settings` trains with the very
settings that the run is filed under.

Modules, one idea each:

* :mod:`~oasis_helpers.training.fitting`: :func:`fit` and what it returns
  (:class:`FitResult`) or raises;
* :mod:`~oasis_helpers.training.configuration`: a run's configuration, the folder it is
  filed under, and the check before a resume (:class:`ConfigMismatchError`);
* :mod:`~oasis_helpers.training.run_files`: the files of a run folder, its state and its
  history (:func:`read_history`);
* :mod:`~oasis_helpers.training.settings`: the series' training defaults
  (:data:`DEFAULT_TRAINING`), :func:`fit_with_settings` and :func:`train_in_run_dir`
  (in the folder of a configuration);
* :mod:`~oasis_helpers.training.summary`: what a training call did, in words
  (:func:`describe_result`), and what notebook 03 reports (:func:`vqvae_summary`).

Every public name is re-exported here: ``training.fit``, ``training.BACKUP_DIR``, ...
"""

from oasis_helpers.training.configuration import (
    RESUMABLE_SETTINGS,
    ConfigMismatchError,
    check_run_dir,
    config_run_dir,
    configuration_differences,
    format_differences,
    json_normalised,
    run_configuration,
)
from oasis_helpers.training.fitting import (
    LR_SCHEDULES,
    BudgetStopWarning,
    FitResult,
    TrainingDivergedError,
    fit,
)
from oasis_helpers.training.run_files import (
    BACKUP_DIR,
    BEST_MODEL,
    CONFIG_FILE,
    CSV_LOG,
    LAST_MODEL,
    RUN_CONFIG,
    STATE_FILE,
    TENSORBOARD_DIR,
    best_so_far,
    clear_run,
    read_history,
    read_state,
    write_state,
)
from oasis_helpers.training.settings import (
    DEFAULT_TRAINING,
    TRAINING_SETTINGS,
    fit_with_settings,
    train_in_run_dir,
)
from oasis_helpers.training.summary import describe_result, slices_per_image, vqvae_summary

__all__ = [
    "BACKUP_DIR",
    "BEST_MODEL",
    "CONFIG_FILE",
    "CSV_LOG",
    "DEFAULT_TRAINING",
    "LAST_MODEL",
    "LR_SCHEDULES",
    "RESUMABLE_SETTINGS",
    "RUN_CONFIG",
    "STATE_FILE",
    "TENSORBOARD_DIR",
    "TRAINING_SETTINGS",
    "BudgetStopWarning",
    "ConfigMismatchError",
    "FitResult",
    "TrainingDivergedError",
    "best_so_far",
    "check_run_dir",
    "clear_run",
    "config_run_dir",
    "configuration_differences",
    "describe_result",
    "fit",
    "fit_with_settings",
    "format_differences",
    "json_normalised",
    "read_history",
    "read_state",
    "run_configuration",
    "slices_per_image",
    "train_in_run_dir",
    "vqvae_summary",
    "write_state",
]
