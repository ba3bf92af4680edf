"""What notebook 05 reports: each method's scores on the test slices, the restoration setting
chosen on validation slices and the blind-spot model, as one dictionary
(:func:`anomaly_summary`, written to ``metrics.json``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from oasis_helpers.anomaly.pipeline import METHODS, AnomalyMaps
from oasis_helpers.anomaly.sweep import RestorationSweep

__all__ = ["anomaly_summary"]


def anomaly_summary(
    results: Mapping[str, dict],
    test_maps: AnomalyMaps,
    test_masks,
    source: str,
    sweep: RestorationSweep,
    chosen: Mapping[str, Any],
    dice_thresholds: Mapping[str, float],
    flag_record: Mapping[str, Any],
    code_auroc: Mapping[str, float],
    run_dir: str | os.PathLike,
    *,
    restoration_quantile: float,
    restoration_score: str,
    smoke: bool,
) -> dict[str, Any]:
    """What notebook 05 writes to ``metrics.json``.

    Args:
        results: method (:data:`~oasis_helpers.anomaly.METHODS`) -> its scores on the test
            slices (:func:`~oasis_helpers.anomaly.evaluate_map` and ``seconds_per_slice``).
        test_maps: the test slices' :class:`~oasis_helpers.anomaly.AnomalyMaps` (the share
            of codes the restoration resampled).
        test_masks: bool ``[N, H, W]``, their lesions (how many slices, how many with one).
        source: ``"synthetic"`` or the ``lesion_dir`` evaluated.
        sweep: the validation sweep (:func:`~oasis_helpers.anomaly.restoration_sweep`): its
            thresholds, settings, slices and rows (``tradeoff``).
        chosen: the sweep's row used on the test slices (its ``flag_quantile`` and
            ``restorations``).
        dice_thresholds: method -> the Dice threshold chosen on the validation slices.
        flag_record: ``blind_spot.train_or_load``'s record of the blind-spot model.
        code_auroc: surprise name -> its code-level AUROC on the validation slices.
        run_dir: the run folder (the blind-spot model's folder is given relative to it).
        restoration_quantile: the quantile that gave the walk's threshold.
        restoration_score: how the restoration map read the healed images (a key of
            :data:`~oasis_helpers.anomaly.SCORES`).
        smoke: the notebook's ``smoke``.

    Returns:
        A dict of plain and NumPy values (``runs.write_metrics`` converts them): the three
        methods' scores at the top level, then the counts, the setting, ``blind_spot`` and
        ``tradeoff``.
    """
    missing = [method for method in METHODS if method not in results]
    if missing:
        raise ValueError(f"results lacks the methods {missing}")
    flag_quantile = chosen["flag_quantile"]
    history = flag_record["history"]
    return {
        **results,
        "num_slices": len(test_masks),
        "num_lesion_slices": int(np.asarray(test_masks).any(axis=(1, 2)).sum()),
        "source": source,
        "restoration_quantile": restoration_quantile,
        "restoration_threshold": sweep.restoration_threshold,
        "restoration_score": restoration_score,
        "flag_quantile": flag_quantile,
        "flag_threshold": sweep.flag_thresholds[flag_quantile],
        "blind_spot": {
            **flag_record["config"],
            "folder": str(Path(flag_record["folder"]).relative_to(run_dir)),
            "loaded": flag_record["loaded"],
            "train_seconds": flag_record.get("train_seconds"),
            "validation_bits_per_code": history["val_loss"][-1] / np.log(2),
            "code_auroc_validation": dict(code_auroc),
        },
        "num_restorations": chosen["restorations"],
        "max_restorations": sweep.settings["max_restorations"],
        "temperature": sweep.settings["temperature"],
        "flag_dilation": sweep.settings["flag_dilation"],
        "median_size": sweep.settings["median_size"],
        "dice_thresholds": dict(dice_thresholds),
        "validation_slices": len(sweep.images),
        "tradeoff": sweep.rows,
        "resampled_fraction_test": float(test_maps.restoration.flagged.mean()),
        "smoke": smoke,
    }
