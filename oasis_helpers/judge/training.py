"""Training the anatomy judge on real training slices, scoring it on held-out ones, and
keeping it in a run folder.

The loss is the sum over targets of the mean squared error divided by the target's
variance over the training slices::

    L = sum_t  mean_n (y_tn - y^_tn)^2 / var_n(y_tn)

(the variance averaged over a target's components) so each target weighs the same
whatever its scale (a height spans [0, 1], a CSF fraction a few hundredths) and
``L_t = 1`` is about what predicting the mean achieves. With masks the targets are the
height, the tissue fractions and the tissue layout (:mod:`oasis_helpers.judge.network`). Adam with a
cosine-decaying learning rate, ``steps`` batches of ``batch_size`` slices drawn from a
shuffled, repeated ``tf.data`` pipeline, all in one compiled (graph) ``fit``.

The validation report gives, per target, the mean absolute error on the validation
slices and that of predicting the training mean (the judge must beat it to know
anything): ``height_mae`` and ``height_mae_mean_predictor``, ``tissue_mae`` (over the
three fractions) and ``tissue_mae_mean_predictor``, ``brain_fraction_mae`` (the sum
of the three), and ``layout_mae`` (over the grid's cells and tissues).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import numpy.typing as npt

from oasis_helpers import runs
from oasis_helpers.judge.network import (
    JUDGE_FILE,
    build_judge,
    judge_predictions,
    tissue_fractions,
    tissue_layout,
)

__all__ = [
    "DEFAULT_JUDGE_TRAINING",
    "JUDGE_REPORT_FILE",
    "JudgeResult",
    "load_judge",
    "save_judge",
    "split_targets",
    "train_judge",
    "train_judge_on_splits",
    "validation_report",
]

#: The report of the judge's training and validation, beside :data:`JUDGE_FILE`.
JUDGE_REPORT_FILE = "judge.json"
#: Training settings of :func:`train_judge` (measured on the demo cohort, 2 slow cores).
DEFAULT_JUDGE_TRAINING = {"steps": 300, "batch_size": 32, "learning_rate": 3e-3}


class JudgeResult(NamedTuple):
    """What :func:`train_judge` returns.

    Attributes:
        model: the trained judge (:func:`~oasis_helpers.judge.build_judge`).
        report: plain values: ``targets``, the validation scores
            (:func:`validation_report`), ``train_slices``, ``validation_slices``,
            ``steps``, ``batch_size``, ``learning_rate``, ``seed`` and ``train_seconds``.
    """

    model: keras.Model
    report: dict[str, Any]


def _check_set(name: str, images, heights, masks) -> tuple[np.ndarray, np.ndarray, Any]:
    images = np.asarray(images, np.float32)
    heights = np.asarray(heights, np.float32).reshape(-1)
    if images.ndim != 4 or images.shape[-1] != 1 or images.shape[1] != images.shape[2]:
        raise ValueError(f"{name}_images must have shape [N, S, S, 1], got {images.shape}")
    if len(heights) != len(images):
        raise ValueError(
            f"{name}_heights must hold one height per image ({len(images)}), got {len(heights)}"
        )
    if len(heights) and (heights.min() < 0 or heights.max() > 1):
        raise ValueError(f"{name}_heights must lie in [0, 1]")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape[:3] != images.shape[:3]:
            raise ValueError(
                f"{name}_masks must be labels [N, S, S] of the images {images.shape[:3]}, "
                f"got {masks.shape}"
            )
    return images, heights, masks


def validation_report(
    model: keras.Model,
    images: npt.ArrayLike,
    heights: npt.ArrayLike,
    masks: npt.ArrayLike | None,
    train_heights: npt.ArrayLike,
    train_masks: npt.ArrayLike | None,
) -> dict[str, float]:
    """The judge's errors on held-out slices beside those of predicting the training mean.

    Args:
        model: a trained judge.
        images, heights, masks: the held-out slices ``[N, S, S, 1]``, ``[N]``, labels
            ``[N, S, S]`` (or ``None``).
        train_heights, train_masks: those of the training slices (their means are the
            mean predictor).

    Returns:
        ``height_mae``, ``height_mae_mean_predictor``, and with masks ``tissue_mae``,
        ``tissue_mae_mean_predictor``, ``brain_fraction_mae``,
        ``brain_fraction_mae_mean_predictor``, ``layout_mae``, ``layout_mae_mean_predictor``
        (mean absolute errors; fractions of the area).
    """
    predicted = judge_predictions(model, images)
    heights = np.asarray(heights, np.float32)
    report = {
        "height_mae": float(np.abs(predicted["height"] - heights).mean()),
        "height_mae_mean_predictor": float(np.abs(np.mean(train_heights) - heights).mean()),
    }
    if masks is None or train_masks is None:
        return report
    if "tissue" in predicted:
        tissues, mean = tissue_fractions(masks), tissue_fractions(train_masks).mean(axis=0)
        brain = tissues.sum(axis=1)
        report["tissue_mae"] = float(np.abs(predicted["tissue"] - tissues).mean())
        report["tissue_mae_mean_predictor"] = float(np.abs(mean - tissues).mean())
        report["brain_fraction_mae"] = float(np.abs(predicted["tissue"].sum(axis=1) - brain).mean())
        report["brain_fraction_mae_mean_predictor"] = float(np.abs(mean.sum() - brain).mean())
    if "layout" in predicted:
        layout, mean = tissue_layout(masks), tissue_layout(train_masks).mean(axis=0)
        report["layout_mae"] = float(np.abs(predicted["layout"] - layout).mean())
        report["layout_mae_mean_predictor"] = float(np.abs(mean - layout).mean())
    return report


def train_judge(
    train_images: npt.ArrayLike,
    train_heights: npt.ArrayLike,
    val_images: npt.ArrayLike,
    val_heights: npt.ArrayLike,
    seed: int,
    steps: int = DEFAULT_JUDGE_TRAINING["steps"],
    train_masks: npt.ArrayLike | None = None,
    val_masks: npt.ArrayLike | None = None,
    batch_size: int = DEFAULT_JUDGE_TRAINING["batch_size"],
    learning_rate: float = DEFAULT_JUDGE_TRAINING["learning_rate"],
) -> JudgeResult:
    """Train a judge on real training slices and score it on validation slices.

    Args:
        train_images, val_images: float32 ``[N, S, S, 1]`` in ``[0, 1]`` (real slices;
            validation slices of other subjects than the training ones).
        train_heights, val_heights: float32 ``[N]`` in ``[0, 1]``, the slices' normalised
            axial heights (:func:`oasis_helpers.code_location.slice_heights`).
        seed: seeds Python, NumPy, TensorFlow (weights, shuffling, flips).
        steps: batches of training (one compiled ``fit`` of ``steps`` steps).
        train_masks, val_masks: uint8 tissue labels ``[N, S, S]`` (0 background, 1 CSF,
            2 grey matter, 3 white matter), or ``None``: a judge of the height alone.
            Both or neither.
        batch_size, learning_rate: of Adam (cosine decay to 0 over ``steps``).

    Returns:
        :class:`JudgeResult`.
    """
    import tensorflow as tf

    if (train_masks is None) != (val_masks is None):
        raise ValueError(
            "give tissue masks for both the training and validation slices, or for neither"
        )
    train_images, train_heights, train_masks = _check_set(
        "train", train_images, train_heights, train_masks
    )
    val_images, val_heights, val_masks = _check_set("val", val_images, val_heights, val_masks)
    if len(train_images) < 2:
        raise ValueError("train_judge needs at least 2 training slices")
    steps, batch_size = int(steps), int(batch_size)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    runs.seed_everything(seed)
    targets = {"height": train_heights[:, None]}
    if train_masks is not None:
        targets["tissue"] = tissue_fractions(train_masks)
        targets["layout"] = tissue_layout(train_masks)
    model = build_judge(train_images.shape[1], tuple(targets))
    weights = {
        name: 1.0 / max(float(values.var(axis=0).mean()), 1e-6) for name, values in targets.items()
    }
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={name: "mse" for name in targets},
        loss_weights=weights,
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_images, targets))
        .shuffle(len(train_images), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(min(batch_size, len(train_images)), drop_remainder=True)
        .prefetch(2)
    )
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)  # shuffled above
    seconds = time.perf_counter() - start
    report = {
        "targets": list(targets),
        **validation_report(model, val_images, val_heights, val_masks, train_heights, train_masks),
        "train_slices": len(train_images),
        "validation_slices": len(val_images),
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": int(seed),
        "train_seconds": seconds,
    }
    return JudgeResult(model, report)


def save_judge(folder: str | os.PathLike, model: keras.Model, report: dict[str, Any]) -> Path:
    """Write ``folder/judge.keras`` (:data:`JUDGE_FILE`) and its report ``folder/judge.json``.

    Returns:
        The model's path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = runs.save_model(model, folder / JUDGE_FILE)
    runs.write_json(folder / JUDGE_REPORT_FILE, report)
    return path


def load_judge(folder: str | os.PathLike) -> JudgeResult:
    """Read back what :func:`save_judge` wrote (safe mode, ``runs.load_saved_model``)."""
    folder = Path(folder)
    model = runs.load_saved_model(folder / JUDGE_FILE, keras.Model, "04_pixelcnn_prior")
    report_path = folder / JUDGE_REPORT_FILE
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return JudgeResult(model, report)


def split_targets(split) -> tuple[np.ndarray, np.ndarray | None]:
    """A slice split's judge targets: heights ``[N]`` and tissue masks ``[N, S, S]``.

    Heights from the split's ``subject_ids`` and ``slice_ids``
    (:func:`oasis_helpers.code_location.slice_heights`, as ``codes.npz`` has them);
    masks when every slice has a real one (``mask_present``), else ``None``.
    """
    from oasis_helpers.code_location import slice_heights

    heights = slice_heights(split.subject_ids, split.slice_ids)
    masks = getattr(split, "masks", None)
    present = getattr(split, "mask_present", None)
    if masks is None or len(masks) != len(heights):
        return heights, None
    if present is not None and not np.all(present):
        return heights, None
    return heights, np.asarray(masks)


def train_judge_on_splits(
    train_split, validation_split, seed: int, steps: int = DEFAULT_JUDGE_TRAINING["steps"], **kwargs
) -> JudgeResult:
    """:func:`train_judge` on every slice of two ``data`` splits (``SliceSplit``).

    The judge learns the tissues too when both splits carry masks for every slice
    (``data.load_slices(..., with_masks=True)``, the default), else the height alone.
    ``kwargs`` go to :func:`train_judge` (``batch_size``, ``learning_rate``).
    """
    train_heights, train_masks = split_targets(train_split)
    val_heights, val_masks = split_targets(validation_split)
    if train_masks is None or val_masks is None:
        train_masks = val_masks = None
    return train_judge(
        train_split.float_images(np.arange(len(train_split))),
        train_heights,
        validation_split.float_images(np.arange(len(validation_split))),
        val_heights,
        seed,
        steps,
        train_masks=train_masks,
        val_masks=val_masks,
        **kwargs,
    )
