"""The package's values that the diagrams state (:func:`shown_values`), read from the package.

Each value is read where it is defined, when a diagram is drawn (the modules that define
them import TensorFlow, so they are imported then, not when :mod:`oasis_helpers.plots`
is): a diagram cannot state a default the package no longer has.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "shown_values",
]


def shown_values() -> dict[str, Any]:
    """The quantizer's, the VQ-VAE's, the prior's and notebook 05's defaults the diagrams
    state, by name (e.g. ``"commitment_cost"``, ``"dilations"``, ``"median_size"``)."""
    from oasis_helpers import anomaly, models, prior, quantizer
    from oasis_helpers.prior import model as prior_model

    return {
        "commitment_cost": quantizer.DEFAULT_COMMITMENT_COST,
        "ema_decay": quantizer.DEFAULT_EMA_DECAY,
        "num_embeddings": models.DEFAULT_CONFIG["num_embeddings"],
        "embedding_dim": models.DEFAULT_CONFIG["embedding_dim"],
        "hidden_channels": prior.DEFAULT_PRIOR["hidden_channels"],
        "kernel_size": prior.DEFAULT_PRIOR["kernel_size"],
        "num_layers": prior.DEFAULT_PRIOR["num_layers"],
        "dilations": tuple(prior.DEFAULT_PRIOR["dilations"]),
        "feature_frequencies": tuple(prior.DEFAULT_PRIOR["feature_frequencies"]),
        "position_hidden": prior_model.POSITION_HIDDEN,
        "position_features": prior_model.POSITION_FEATURES,
        "flag_smoothing": anomaly.DEFAULT_FLAG_SMOOTHING,
        "flag_dilation": anomaly.DEFAULT_FLAG_DILATION,
        "flag_quantiles": tuple(anomaly.DEFAULT_FLAG_QUANTILES),
        "restoration_quantile": anomaly.DEFAULT_RESTORATION_QUANTILE,
        "num_restorations": anomaly.DEFAULT_NUM_RESTORATIONS,
        "difference_smoothing": anomaly.DEFAULT_DIFFERENCE_SMOOTHING,
        "median_size": anomaly.DEFAULT_MEDIAN_SIZE,
    }
