"""Training the prior on notebook 03's code grids (:func:`train_prior`, notebook 04).

The pairs come from :func:`~oasis_helpers.prior.make_code_dataset` (the training grids
shuffled and repeated, the validation grids once, in order), with the slice heights when
the prior is conditional (:func:`~oasis_helpers.prior.heights_if_conditional`); the
training is :func:`oasis_helpers.training.train_in_run_dir`, in the folder of the
configuration: the model's ``get_config()``, the training settings and the file of the
code grids, so that new codes from notebook 03 train a new run.
"""

from __future__ import annotations

import os

from oasis_helpers import training
from oasis_helpers.data.layouts import SPLITS
from oasis_helpers.prior.conditioning import heights_if_conditional
from oasis_helpers.prior.dataset import make_code_dataset

__all__ = ["train_prior"]


def train_prior(
    model,
    grids,
    base_dir: str | os.PathLike,
    settings: dict,
    *,
    interactive: bool = False,
    top_grids=None,
    **options,
) -> training.FitResult:
    """Train the prior ``model`` on ``grids["train"]``, validated on ``grids["validate"]``.

    Args:
        model: a compiled prior (:func:`~oasis_helpers.prior.make_prior`).
        grids: notebook 03's ``code_grids.CodeGrids`` (:func:`oasis_helpers.code_grids.load_codes`);
            its ``path`` joins the settings that name the run, as ``codes``.
        base_dir: the folder of the configurations' folders (notebook 04:
            ``out_dir / "training"``).
        settings: the training settings: ``batch_size`` (grids per step), ``seed`` (of the
            shuffle), ``steps_per_epoch``, ``learning_rate``, ``epochs`` and
            ``max_train_minutes`` (these two name no folder: raising them continues a run),
            and anything else that should name the run (notebook 04: ``smoke``).
        interactive: a live plot and a progress bar (``training.train_in_run_dir``).
        top_grids: for a two-level fine prior (``model.top_codes > 0``), the top grids of
            the same slices (:func:`oasis_helpers.prior.layout.top_grids`), given with each
            grid; their ``path`` joins the settings that name the run, as ``top``.
        **options: the other arguments of ``training.fit`` (``resume``, ``verbose``, ...).
            Early stopping is off unless ``early_stopping_patience`` is given: the prior
            trains for its epochs or its budget.

    Returns:
        The ``training.FitResult``; ``result.requested_run_dir`` is the run's folder.

    Raises:
        ValueError: ``settings`` names ``codes`` (it comes from ``grids``) or lacks
            ``batch_size`` or ``seed``.
    """
    if "codes" in settings:
        raise ValueError("settings must not name 'codes': train_prior takes it from grids.path")
    missing = [key for key in ("batch_size", "seed") if key not in settings]
    if missing:
        raise ValueError(f"settings lack {missing}: the pipeline of code grids needs them")
    if bool(getattr(model, "top_codes", 0)) != (top_grids is not None):
        raise ValueError("top_grids are needed by, and only by, a prior with top_codes > 0")
    train, validation = (grids[name] for name in SPLITS[:2])  # "train", "validate"

    def layout(name):
        return None if top_grids is None else top_grids[name].codes

    train_data = make_code_dataset(
        train.codes,
        heights_if_conditional(model, train),
        batch_size=settings["batch_size"],
        seed=settings["seed"],
        top_codes=layout("train"),
    )
    validation_data = make_code_dataset(
        validation.codes,
        heights_if_conditional(model, validation),
        batch_size=settings["batch_size"],
        shuffle=False,
        repeat=False,
        top_codes=layout("validate"),
    )
    named = {"codes": str(grids.path), **settings}
    if top_grids is not None:
        named["top"] = str(top_grids.path)
    options.setdefault("early_stopping_patience", None)
    return training.train_in_run_dir(
        model,
        train_data,
        base_dir,
        model.get_config(),
        named,  # new codes from notebook 03 (or a new layout): a new run
        interactive=interactive,
        validation_data=validation_data,
        **options,
    )
