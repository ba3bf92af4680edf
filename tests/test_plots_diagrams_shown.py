"""plots.diagrams.shown: the values the diagrams state are the package's own."""

from __future__ import annotations

import pytest

from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


def test_the_values_the_diagrams_state_are_the_packages():
    from oasis_helpers import anomaly, models, prior, quantizer
    from oasis_helpers.prior import model as prior_model

    package = {
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
    assert diagrams.SHOWN == package
    assert models.DEFAULT_CONFIG["quantizer"] == "ema"  # "EMA ('ema', the default)"
