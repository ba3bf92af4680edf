"""The blind-spot model's settings: :data:`DEFAULT_BLIND_SPOT` and :func:`configuration`.

:data:`DEFAULT_BLIND_SPOT` holds every setting of the model and its training (hole,
embedding_dim, filters, hidden, learning_rate, batch_size, epochs, dilations), the single
source of their defaults; :func:`configuration` fills in and checks a partial one;
:data:`MODEL_SETTINGS` names those the model builder takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BLIND_SPOT_DILATIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLIND_SPOT",
    "DEFAULT_EPOCHS",
    "DEFAULT_HOLE",
    "MODEL_SETTINGS",
    "configuration",
]


#: Half-size of the hole in codes: codes within ``hole`` rows and columns of a position are
#: never seen by its prediction; 3 is a 7 x 7 hole, 28 x 28 pixels at ``downsample = 4``.
#: Chosen with ``benchmarks/anomaly.py`` on notebook 05's validation slices: its 3 x 3
#: mean surprise separates lesion codes from the other brain codes better than a 5 x 5
#: hole's and the prior's (``benchmarks/results/anomaly_demo.json``:
#: ``diagnostics.code_auroc.blind_spot_hole_3`` against ``.blind_spot_hole_2`` and
#: ``.nll_box_mean``), and restoration near its flags scores the higher pixel AUROC (the
#: ``variants`` with ``flag`` ``"blind-spot hole 3"`` against ``"blind-spot hole 2"``:
#: ``maps.input.<restorations>.auroc_pixel``).
DEFAULT_HOLE = 3

#: Epochs over the training grids. An epoch of the demo cohort's training grids is the
#: longest single step of notebook 05 on a CPU without oneDNN (``benchmarks/cpu_kernels.py``,
#: ``benchmarks/results/cpu_kernels.json``: ``results.eigen.blind_spot_grids_per_second``);
#: what these epochs reach is in notebook 05's ``metrics.json``
#: (``blind_spot.validation_bits_per_code``, ``blind_spot.code_auroc_validation``), and
#: ``benchmarks/anomaly.py --epochs`` trains other counts.
DEFAULT_EPOCHS = 6

DEFAULT_BATCH_SIZE = 16

#: Dilations of the three hole convolutions (see the module docstring).
BLIND_SPOT_DILATIONS = (1, 2, 4)

#: Every setting of the blind-spot model and its training: the single source of truth of
#: the defaults that :func:`make_blind_spot_model`, :func:`train_blind_spot_model`,
#: :func:`train_or_load`, notebook 05 and ``benchmarks/anomaly.py`` use. Each setting keys
#: the folder :func:`train_or_load` trains into.
DEFAULT_BLIND_SPOT: dict[str, Any] = {
    "hole": DEFAULT_HOLE,
    "embedding_dim": 16,
    "filters": 64,
    "hidden": 128,
    "learning_rate": 2e-3,
    "batch_size": DEFAULT_BATCH_SIZE,
    "epochs": DEFAULT_EPOCHS,
    "dilations": BLIND_SPOT_DILATIONS,
}

#: The settings of :data:`DEFAULT_BLIND_SPOT` that :func:`make_blind_spot_model` takes
#: (the others, ``batch_size`` and ``epochs``, are :func:`train_blind_spot_model`'s).
MODEL_SETTINGS = ("hole", "embedding_dim", "filters", "hidden", "learning_rate", "dilations")


def _whole_number(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"blind-spot setting {name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"blind-spot setting {name} must be {allowed}, got {value!r}")
    return int(value)


def configuration(settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A full blind-spot configuration: :data:`DEFAULT_BLIND_SPOT` with ``settings`` over it.

    Checked and normalised: ``hole`` an integer 0 to 5 codes; ``embedding_dim``,
    ``filters``, ``hidden``, ``batch_size`` and ``epochs`` integers >= 1;
    ``learning_rate`` a finite number > 0; ``dilations`` distinct integers >= 1 (a tuple).

    Raises:
        ValueError: an unknown setting (a typo) or a value outside its range.
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULT_BLIND_SPOT))
    if unknown:
        raise ValueError(
            f"unknown blind-spot setting(s) {unknown}: the settings are "
            f"{sorted(DEFAULT_BLIND_SPOT)}"
        )
    config = {**DEFAULT_BLIND_SPOT, **settings}
    config["hole"] = _whole_number("hole", config["hole"], 0, 5)
    for name in ("embedding_dim", "filters", "hidden", "batch_size", "epochs"):
        config[name] = _whole_number(name, config[name], 1)
    rate = config["learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise ValueError(f"blind-spot setting learning_rate must be a number, got {rate!r}")
    if rate <= 0:
        raise ValueError(f"blind-spot setting learning_rate must be > 0, got {rate!r}")
    config["learning_rate"] = float(rate)
    dilations = config["dilations"]
    if isinstance(dilations, str | bytes) or not hasattr(dilations, "__iter__"):
        raise ValueError(f"blind-spot setting dilations must be a sequence, got {dilations!r}")
    dilations = tuple(_whole_number("dilations", value, 1) for value in dilations)
    if not dilations or len(set(dilations)) != len(dilations):
        raise ValueError(
            f"blind-spot setting dilations must be distinct integers >= 1, got {dilations!r}"
        )
    config["dilations"] = dilations
    return config
