"""The package's values that the diagrams state (:data:`SHOWN`), written by hand in one place.

Written here rather than imported, so that the diagrams import only NumPy and matplotlib
(the modules that define these values import TensorFlow);
``tests/test_plots_diagrams_shown.py`` compares each with the package's own constant.
"""

from __future__ import annotations

__all__ = [
    "SHOWN",
]


#: The package's values that the diagrams state, in one place; the tests compare each with
#: the package's own constant (named in the comment).
SHOWN = {
    "commitment_cost": 0.25,  # quantizer.DEFAULT_COMMITMENT_COST
    "ema_decay": 0.95,  # quantizer.DEFAULT_EMA_DECAY
    "num_embeddings": 256,  # models.DEFAULT_CONFIG
    "embedding_dim": 16,  # models.DEFAULT_CONFIG
    "hidden_channels": 32,  # prior.DEFAULT_PRIOR
    "kernel_size": 3,  # prior.DEFAULT_PRIOR
    "num_layers": 4,  # prior.DEFAULT_PRIOR
    "dilations": (1, 2, 4, 8),  # prior.DEFAULT_PRIOR
    "feature_frequencies": (1, 2, 4, 8),  # prior.DEFAULT_PRIOR
    "position_hidden": 64,  # prior.model.POSITION_HIDDEN
    "position_features": 32,  # prior.model.POSITION_FEATURES
    "flag_smoothing": 3,  # anomaly.DEFAULT_FLAG_SMOOTHING
    "flag_dilation": 1,  # anomaly.DEFAULT_FLAG_DILATION
    "flag_quantiles": (0.02, 0.01, 0.005),  # anomaly.DEFAULT_FLAG_QUANTILES
    "restoration_quantile": 0.5,  # anomaly.DEFAULT_RESTORATION_QUANTILE
    "num_restorations": 3,  # anomaly.DEFAULT_NUM_RESTORATIONS (notebook 05's maximum)
    "difference_smoothing": 1.0,  # anomaly.DEFAULT_DIFFERENCE_SMOOTHING
    "median_size": 5,  # anomaly.DEFAULT_MEDIAN_SIZE
}
