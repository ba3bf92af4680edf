"""Choosing the restoration's setting on validation slices: speed against quality.

Notebook 05 restores the validation slices (with their synthetic lesions) once per
candidate flag threshold, ``R`` times each, with :func:`~oasis_helpers.anomaly.anomaly_maps`;
the map of the first ``r`` restorations, for every ``r <= R``, shows what more restorations
buy. :func:`restoration_sweep` does that and returns one row per ``(flag quantile, r)``:
the pixel AUROC and best Dice of the restoration map, the share of codes resampled and the
seconds per slice (encoding, the likelihood pass and the blind-spot pass included; those of
``r < R`` are the restorations' share of the measured time). The notebook picks the row
with the best AUROC and, from :meth:`RestorationSweep.method_maps` of that setting, each
method's Dice threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from oasis_helpers.anomaly.evaluation import best_dice, pixel_auroc
from oasis_helpers.anomaly.maps import DEFAULT_MEDIAN_SIZE
from oasis_helpers.anomaly.pipeline import (
    DEFAULT_FLAG_DILATION,
    AnomalyMaps,
    anomaly_maps,
    scored_restoration_map,
)
from oasis_helpers.anomaly.restoration import DEFAULT_NUM_RESTORATIONS
from oasis_helpers.anomaly.scores import ScoreReference

__all__ = ["TRADEOFF_KEYS", "RestorationSweep", "restoration_sweep"]

#: The keys of each row of :attr:`RestorationSweep.rows` (notebook 05's ``tradeoff``).
TRADEOFF_KEYS = (
    *("flag_quantile", "restorations", "auroc_pixel", "dice_best", "resampled"),
    "seconds_per_slice",
)


@dataclass(frozen=True)
class RestorationSweep:
    """What :func:`restoration_sweep` measured on ``N`` validation slices.

    Attributes:
        rows: one dict per ``(flag quantile, restorations)`` (:data:`TRADEOFF_KEYS`), the
            quantiles in the order given and ``restorations`` from 1 to ``R``.
        maps: flag quantile -> the :class:`~oasis_helpers.anomaly.AnomalyMaps` of its ``R``
            restorations.
        residual: ``auroc_pixel`` and ``dice_best`` of the reconstruction residual on the
            same slices (the baseline that restoration has to beat; no threshold changes it).
        images: the validation slices, float32 ``[N, H, W, 1]``.
        restoration_threshold: the walk's threshold the sweep ran with.
        flag_thresholds: flag quantile -> its flag threshold.
        settings: ``max_restorations``, ``temperature``, ``flag_dilation``, ``median_size``
            and ``seed`` of the sweep.
    """

    rows: list[dict[str, Any]]
    maps: dict[float, AnomalyMaps]
    residual: dict[str, float]
    images: np.ndarray
    restoration_threshold: float
    flag_thresholds: dict[float, float]
    settings: dict[str, Any]

    def method_maps(
        self,
        flag_quantile: float,
        restorations: int,
        score: str = "difference",
        score_reference: ScoreReference | None = None,
    ) -> dict[str, np.ndarray]:
        """The three maps of :data:`~oasis_helpers.anomaly.METHODS` at one setting.

        The reconstruction and likelihood maps as computed; the restoration map of the
        first ``restorations`` healed copies of ``flag_quantile``'s run, read by ``score``
        (with ``score_reference``, as :func:`~oasis_helpers.anomaly.anomaly_maps` takes
        them) and post-processed as it does.
        """
        if flag_quantile not in self.maps:
            raise KeyError(f"no flag quantile {flag_quantile!r} in the sweep: {list(self.maps)}")
        maps = self.maps[flag_quantile]
        if not 1 <= restorations <= len(maps.healed):
            raise ValueError(f"restorations must be in [1, {len(maps.healed)}], got {restorations}")
        restoration = scored_restoration_map(
            self.images,
            maps.healed[:restorations],
            maps.region,
            score,
            score_reference,
            self.settings["median_size"],
        )
        return {**maps.maps, "restoration": restoration}


def restoration_sweep(
    vqvae,
    prior_model,
    images,
    masks,
    restoration_threshold: float,
    flag_model,
    flag_thresholds: Mapping[float, float],
    slice_heights=None,
    max_restorations: int = DEFAULT_NUM_RESTORATIONS,
    seed: int = 0,
    temperature: float = 1.0,
    flag_dilation: int | None = DEFAULT_FLAG_DILATION,
    median_size: int = DEFAULT_MEDIAN_SIZE,
) -> RestorationSweep:
    """Restore ``images`` at every flag threshold, ``max_restorations`` times, and score it.

    For each ``(quantile, threshold)`` of ``flag_thresholds``, one
    :func:`~oasis_helpers.anomaly.anomaly_maps` call with ``max_restorations`` restorations
    (seed ``seed``); then, for ``r = 1 .. max_restorations``, the pixel AUROC and best Dice
    of the map of the first ``r`` restorations against ``masks`` in the eroded brain, the
    share of codes those ``r`` resampled and the seconds per slice: the likelihood pass
    plus ``r`` times the measured time of one restoration.

    Args:
        vqvae, prior_model: notebook 03's VQ-VAE and notebook 04's prior.
        images: float32 ``[N, H, W, 1]`` validation slices (with synthetic lesions).
        masks: bool ``[N, H, W]``, their lesions.
        restoration_threshold: the walk's threshold (from healthy validation slices).
        flag_model: the blind-spot model that chooses where to heal.
        flag_thresholds: flag quantile -> the flag threshold it gives on healthy codes.
        slice_heights: the slices' heights ``[N]`` for a conditional prior, else ``None``.
        max_restorations, seed, temperature, flag_dilation, median_size: as
            :func:`~oasis_helpers.anomaly.anomaly_maps`.

    Returns:
        :class:`RestorationSweep`.
    """
    if not flag_thresholds:
        raise ValueError("flag_thresholds is empty: give at least one flag quantile")
    images = np.asarray(images, np.float32)
    rows, all_maps = [], {}
    for quantile, flag_threshold in flag_thresholds.items():
        maps = all_maps[quantile] = anomaly_maps(
            vqvae,
            prior_model,
            images,
            restoration_threshold,
            slice_heights,
            num_restorations=max_restorations,
            seed=seed,
            temperature=temperature,
            flag_dilation=flag_dilation,
            median_size=median_size,
            flag_model=flag_model,
            flag_threshold=flag_threshold,
        )
        seconds = maps.seconds
        per_restoration = (seconds["restoration"] - seconds["likelihood"]) / max_restorations
        for count in range(1, max_restorations + 1):
            restoration = scored_restoration_map(
                images, maps.healed[:count], maps.region, median_size=median_size
            )
            rows.append(
                {
                    "flag_quantile": quantile,
                    "restorations": count,
                    "auroc_pixel": pixel_auroc(restoration, masks, maps.region),
                    "dice_best": best_dice(restoration, masks, maps.region)[0],
                    "resampled": float(maps.restoration.flagged[:count].mean()),
                    "seconds_per_slice": (seconds["likelihood"] + count * per_restoration)
                    / len(images),
                }
            )
    first = next(iter(all_maps.values()))  # the residual does not depend on the threshold
    residual = {
        "auroc_pixel": pixel_auroc(first.maps["reconstruction"], masks, first.region),
        "dice_best": best_dice(first.maps["reconstruction"], masks, first.region)[0],
    }
    return RestorationSweep(
        rows=rows,
        maps=all_maps,
        residual=residual,
        images=images,
        restoration_threshold=restoration_threshold,
        flag_thresholds=dict(flag_thresholds),
        settings={
            "max_restorations": max_restorations,
            "temperature": temperature,
            "flag_dilation": flag_dilation,
            "median_size": median_size,
            "seed": seed,
        },
    )
