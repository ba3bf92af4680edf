"""Check a notebook's parameters before any work, with errors that say what is allowed.

Each notebook checks its parameters in the cell after its parameters cell, with
:func:`check_notebook`: the parameters named in :data:`NOTEBOOK_PARAMETERS` for it, read
from the notebook's variables (and, for notebook 03, the replica count of its
distribution strategy)::

    parameters.check_notebook("03_train_vqvae", globals(), replicas=strategy.num_replicas_in_sync)

which is :func:`check` of those values by name::

    parameters.check(image_size=image_size, crop_size=crop_size, downsample=downsample,
                     batch_size=batch_size, replicas=strategy.num_replicas_in_sync, ...)

A bad value raises :class:`ParameterError` (a ``ValueError``) naming the parameter,
its value and the allowed range, before a slice is loaded or a model built: without
it, ``crop_size = 512`` with ``image_size = 256`` fails deep inside tf.data, and an
unknown quantizer only when the model is built.

Rules on one parameter are the functions ``check_<name>``; rules that relate two
parameters (a crop inside the image and a multiple of ``downsample``, a code grid
that divides the image, a batch that splits evenly over the replicas, a patch of
``embedding_dim`` pixels) run when both are given. Rules that the package already
enforces live where they are enforced and are called from here: ``downsample`` and
``quantizer`` in :mod:`oasis_helpers.models`, ``image_size`` in
:mod:`oasis_helpers.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["LIMITS", "NOTEBOOK_PARAMETERS", "ParameterError", "check", "check_notebook"]

#: Inclusive ``(minimum, maximum)`` of the integer parameters (``None``: no maximum).
#: The maxima catch typing slips (an extra zero) long before memory runs out.
LIMITS: dict[str, tuple[int, int | None]] = {
    "image_size": (8, 4096),
    "crop_size": (8, 4096),
    "batch_size": (1, 65_536),
    "num_embeddings": (2, 65_536),
    "embedding_dim": (1, 4096),
    "epochs": (1, None),
    "steps_per_epoch": (1, None),
    "validation_slices": (1, None),
    "steps": (1, None),
    "sweep_steps": (1, None),
    "patch_size": (1, 256),
    "max_patches": (1, None),
    "slices_per_volume": (1, None),
    "num_residual_blocks": (0, 64),
    "residual_channels": (1, 4096),
    "dead_code_steps": (0, None),
    "seed": (0, 2**32 - 1),
    # notebook 04, the PixelCNN prior
    "hidden_channels": (1, 4096),
    "num_layers": (1, 256),
    "head_channels": (1, 4096),
    "num_samples": (1, None),
    "quality_samples": (1, None),
    "top_k": (0, 65_536),
    # notebook 05, anomaly detection
    "test_slices": (1, None),
    "max_restorations": (1, 64),
    "median_size": (1, 63),
    "flag_dilation": (0, 64),
    "blind_spot_hole": (0, 5),
    "blind_spot_epochs": (1, None),
}

#: Parameters that must be finite numbers strictly above zero (``None`` allowed where noted).
POSITIVE = ("learning_rate", "max_train_minutes", "temperature")
#: Parameters where ``None`` means "off" (no crops, no budget, no restarts).
OPTIONAL = ("crop_size", "max_train_minutes", "dead_code_steps", "flag_dilation")


#: The parameters each notebook checks, by their names in its parameters cell, in the order
#: checked. The cell's other names have no rule here (``data_dir``, ``run_dir``, ``smoke``,
#: ``interactive``, notebook 01's ``augment`` and ``on_error``, notebook 03's ``channels``,
#: ``resume`` and ``mixed_precision``, notebook 04's ``coordinates``, ``dilations``,
#: ``feature_frequencies`` and ``resume``, notebook 05's ``lesion_dir`` and
#: ``blind_spot_settings``); ``tests/test_project.py`` checks that every parameter with a
#: rule is listed.
NOTEBOOK_PARAMETERS: dict[str, tuple[str, ...]] = {
    "01_data_loader": ("image_size", "batch_size", "slices_per_volume", "seed"),
    "02_vector_quantizer": (
        *("image_size", "seed", "num_embeddings", "embedding_dim", "patch_size"),
        *("commitment_cost", "steps", "batch_size", "learning_rate", "max_patches"),
        *("sweep_sizes", "sweep_steps"),
    ),
    "03_train_vqvae": (
        *("image_size", "downsample", "num_residual_blocks", "residual_channels"),
        *("num_embeddings", "embedding_dim", "commitment_cost", "quantizer", "ema_decay"),
        *("dead_code_steps", "epochs", "steps_per_epoch", "batch_size", "crop_size"),
        *("learning_rate", "validation_slices", "max_train_minutes", "seed"),
    ),
    "04_pixelcnn_prior": (
        *("image_size", "seed", "hidden_channels", "num_layers", "kernel_size", "head_channels"),
        *("conditional", "epochs", "steps_per_epoch", "batch_size", "learning_rate"),
        *("max_train_minutes", "num_samples", "temperature", "top_k", "quality_samples"),
    ),
    "05_anomaly_detection": (
        *("image_size", "seed", "temperature", "test_slices", "validation_slices"),
        *("lesion_fraction", "flag_quantiles", "restoration_quantile", "blind_spot_hole"),
        *("blind_spot_epochs", "max_restorations", "flag_dilation", "median_size"),
        "restoration_score",
    ),
}


class ParameterError(ValueError):
    """A notebook parameter outside its allowed range (the message names both)."""


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ParameterError(f"{name} = {value!r} is not allowed: {name} must be {allowed}")


def check_integer(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]`` (booleans and fractions refused)."""
    allowed = (
        f"an integer >= {minimum:,}"
        if maximum is None
        else f"an integer from {minimum:,} to {maximum:,}"
    )
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        _fail(name, value, allowed)
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        _fail(name, value, allowed)
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` as a finite ``float`` > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(name, value, "a finite number > 0")
    if value <= 0:
        _fail(name, value, "a finite number > 0")
    return float(value)


def check_commitment_cost(value: Any) -> float:
    """``beta`` of the commitment loss: a finite number >= 0 (0 switches it off)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail("commitment_cost", value, "a finite number >= 0 (0.25 in the paper)")
    if value < 0:
        _fail("commitment_cost", value, "a finite number >= 0 (0.25 in the paper)")
    return float(value)


def check_ema_decay(value: Any) -> float:
    """Decay of the EMA codebook's moving averages: strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        _fail("ema_decay", value, "a number strictly between 0 and 1 (e.g. 0.95 or 0.99)")
    return float(value)


def check_kernel_size(value: Any) -> int:
    """The PixelCNN's kernel: odd and >= 3, so that each masked convolution is centred."""
    kernel_size = check_integer("kernel_size", value, 3, 63)
    if kernel_size % 2 == 0:
        _fail("kernel_size", value, "an odd integer from 3 to 63 (3, 5, 7, ...)")
    return kernel_size


def check_restoration_score(value: Any) -> str:
    """One of :data:`oasis_helpers.anomaly.SCORES`."""
    from oasis_helpers.anomaly.scores import SCORES

    if value not in SCORES:
        _fail("restoration_score", value, "one of " + ", ".join(repr(name) for name in SCORES))
    return value


def check_quantizer(value: Any) -> str:
    """One of :data:`oasis_helpers.models.QUANTIZERS`."""
    from oasis_helpers.models import QUANTIZERS

    if value not in QUANTIZERS:
        _fail("quantizer", value, "one of " + ", ".join(repr(name) for name in QUANTIZERS))
    return value


def check_downsample(value: Any, image_size: int | None = None) -> int:
    """A power of two >= 2 that divides ``image_size`` (the model's own rules)."""
    from oasis_helpers import models

    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        _fail("downsample", value, "a power of two >= 2 (2, 4, 8, ...)")
    try:
        downsample = models.check_downsample(int(value), image_size)
    except ValueError as error:
        raise ParameterError(f"downsample = {value!r} is not allowed: {error}") from None
    return downsample


def check_image_size(value: Any) -> int:
    """The loader's own rule (:mod:`oasis_helpers.data`), and at most 4096 pixels."""
    from oasis_helpers.data import loading

    try:
        image_size = loading.check_image_size(value)
    except ValueError as error:
        raise ParameterError(f"image_size = {value!r} is not allowed: {error}") from None
    return check_integer("image_size", image_size, *LIMITS["image_size"])


def check_crop_size(crop_size: Any, image_size: int | None = None) -> int | None:
    """``None`` (whole slices) or a side from 8 to ``image_size``."""
    if crop_size is None:
        return None
    if image_size is None:
        return check_integer("crop_size", crop_size, *LIMITS["crop_size"])
    minimum = LIMITS["crop_size"][0]
    allowed = f"None (whole slices) or an integer from {minimum} to image_size ({image_size})"
    if isinstance(crop_size, bool) or not isinstance(crop_size, int | float):
        _fail("crop_size", crop_size, allowed)
    if crop_size != int(crop_size) or not minimum <= crop_size <= image_size:
        _fail("crop_size", crop_size, allowed)
    return int(crop_size)


def check_batch_size(batch_size: Any, replicas: int = 1) -> int:
    """A global batch of at least one example per replica that splits evenly over them."""
    batch_size = check_integer("batch_size", batch_size, *LIMITS["batch_size"])
    replicas = check_integer("replicas", replicas, 1)
    if batch_size % replicas:
        _fail(
            "batch_size",
            batch_size,
            f"a multiple of the {replicas} replicas of the distribution strategy "
            f"(e.g. {max(replicas, batch_size - batch_size % replicas)})",
        )
    return batch_size


def check_fraction(name: str, value: Any, include_one: bool = True) -> float:
    """A share: a number in ``(0, 1]`` (``(0, 1)`` when not ``include_one``)."""
    allowed = "a number in (0, 1]" if include_one else "a number strictly between 0 and 1"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(name, value, allowed)
    if not (0 < value <= 1 if include_one else 0 < value < 1):
        _fail(name, value, allowed)
    return float(value)


def check_quantiles(name: str, value: Any) -> list[float]:
    """One or more quantiles of healthy code probabilities, each strictly in ``(0, 1)``."""
    allowed = "a non-empty list of quantiles strictly between 0 and 1 (e.g. [0.01, 0.005])"
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        _fail(name, value, allowed)
    quantiles = list(value)
    if not quantiles:
        _fail(name, value, allowed)
    for quantile in quantiles:
        if isinstance(quantile, bool) or not isinstance(quantile, int | float):
            _fail(name, value, allowed)
        if not 0 < quantile < 1:
            _fail(name, value, allowed)
    return [float(quantile) for quantile in quantiles]


def check(replicas: int = 1, **values: Any) -> dict[str, Any]:
    """Check a notebook's parameters; return them (as checked, e.g. ints) or raise.

    Args:
        replicas: replicas of the distribution strategy (``batch_size`` must be a
            multiple of it).
        **values: the parameters, by their notebook names: ``image_size``,
            ``crop_size``, ``downsample``, ``batch_size``, ``num_embeddings``,
            ``embedding_dim``, ``commitment_cost``, ``quantizer``, ``ema_decay``,
            ``learning_rate``, ``epochs``, ``steps_per_epoch``, ``validation_slices``,
            ``max_train_minutes``, ``dead_code_steps``, the PixelCNN's
            ``kernel_size``, ``conditional`` and ``temperature``, notebook 05's
            ``lesion_fraction``, ``restoration_quantile``, ``flag_quantiles`` and
            ``restoration_score``, and the
            other names of :data:`LIMITS`. Relations between two parameters are checked when both
            are given.

    Raises:
        ParameterError: a value outside its range (the message names the
            parameter, the value and the allowed range).
        TypeError: a name this module has no rule for (a typo in the call).
    """
    checked: dict[str, Any] = {}
    image_size = values.get("image_size")
    for name, value in values.items():
        if value is None and name in OPTIONAL:
            checked[name] = None
        elif name == "image_size":
            checked[name] = check_image_size(value)
        elif name == "crop_size":
            checked[name] = check_crop_size(value, image_size)
        elif name == "downsample":
            checked[name] = check_downsample(value, image_size)
        elif name == "batch_size":
            checked[name] = check_batch_size(value, replicas)
        elif name == "commitment_cost":
            checked[name] = check_commitment_cost(value)
        elif name == "ema_decay":
            checked[name] = check_ema_decay(value)
        elif name == "quantizer":
            checked[name] = check_quantizer(value)
        elif name == "restoration_score":
            checked[name] = check_restoration_score(value)
        elif name == "kernel_size":
            checked[name] = check_kernel_size(value)
        elif name == "conditional":
            if not isinstance(value, bool):
                _fail(name, value, "True or False")
            checked[name] = value
        elif name == "lesion_fraction":
            checked[name] = check_fraction(name, value)
        elif name == "flag_quantiles":
            checked[name] = check_quantiles(name, value)
        elif name == "restoration_quantile":
            checked[name] = check_fraction(name, value, include_one=False)
        elif name == "sweep_sizes":
            checked[name] = [check_integer(name, size, *LIMITS["num_embeddings"]) for size in value]
        elif name in POSITIVE:
            checked[name] = check_positive(name, value)
        elif name in LIMITS:
            checked[name] = check_integer(name, value, *LIMITS[name])
        else:
            raise TypeError(f"parameters.check has no rule for a parameter named {name!r}")
    if checked.get("crop_size") and checked.get("downsample"):
        crop_size, downsample = checked["crop_size"], checked["downsample"]
        if crop_size % downsample:
            _fail(
                "crop_size",
                crop_size,
                f"a multiple of downsample ({downsample}), so that the decoder rebuilds "
                f"the crop's size (e.g. {max(downsample, crop_size - crop_size % downsample)})",
            )
    if {"patch_size", "embedding_dim"} <= checked.keys():
        patch_size, embedding_dim = checked["patch_size"], checked["embedding_dim"]
        if embedding_dim != patch_size**2:
            _fail(
                "embedding_dim",
                embedding_dim,
                f"patch_size**2 = {patch_size**2}: each {patch_size}x{patch_size} patch "
                "is one vector to quantize",
            )
    return checked


def check_notebook(stem: str, namespace: Mapping[str, Any], replicas: int = 1) -> dict[str, Any]:
    """:func:`check` of the parameters of notebook ``stem`` (:data:`NOTEBOOK_PARAMETERS`).

    Args:
        stem: the notebook's file name without ``.ipynb`` (``"03_train_vqvae"``).
        namespace: the notebook's variables, ``globals()``: each parameter is read by name.
        replicas: replicas of the distribution strategy (as :func:`check`).

    Returns:
        The checked values by name, as :func:`check` returns them.

    Raises:
        ParameterError: a value outside its range (as :func:`check`).
        KeyError: no parameter list for ``stem``, or ``namespace`` lacks a parameter of it
            (its parameters cell has not run).
    """
    if stem not in NOTEBOOK_PARAMETERS:
        raise KeyError(
            f"no parameters are listed for notebook {stem!r}: {sorted(NOTEBOOK_PARAMETERS)}"
        )
    names = NOTEBOOK_PARAMETERS[stem]
    missing = [name for name in names if name not in namespace]
    if missing:
        raise KeyError(f"notebook {stem} has no {missing}: run its parameters cell first")
    return check(replicas=replicas, **{name: namespace[name] for name in names})
