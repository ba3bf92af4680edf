"""A judge that knows anatomy: sample quality measured in features trained for anatomy, at
equal set sizes, with unbiased and classifier-based two-sample measures.

Notebook 04 used to judge the prior's samples by a Fréchet distance in the VQ-VAE's own
encoder features (which reward the VQ-VAE's texture by construction) and against a floor
measured on many more slices than the samples (the Fréchet distance is biased by set size).
This package replaces both:

* :mod:`~oasis_helpers.judge.network`: the judge, a small CNN that reads a slice's axial
  height and tissue fractions (:func:`build_judge`, :func:`judge_features` ``[N, D]``,
  :func:`judge_predictions`, :func:`tissue_fractions`, :data:`JUDGE_FILE`);
* :mod:`~oasis_helpers.judge.training`: :func:`train_judge` on real training slices, its
  validation score, :func:`save_judge` / :func:`load_judge`;
* :mod:`~oasis_helpers.judge.distances`: :func:`kernel_distance` (KID, the unbiased squared
  MMD with a cubic kernel) and :func:`frechet_distance_equal` (both sets at one size);
* :mod:`~oasis_helpers.judge.two_sample`: :func:`classifier_two_sample_test` (C2ST, held out
  by subject; 0.5 = indistinguishable);
* :mod:`~oasis_helpers.judge.anatomy`: :func:`anatomy_profile`, each sample's judged height
  and tissues against the real slices at the same height (drawn by
  ``plots.plot_anatomy_by_height``);
* :mod:`~oasis_helpers.judge.summary`: :func:`judge_summary`, notebook 04's metrics.json
  entries.

Importing this package imports Keras and TensorFlow.
"""

from oasis_helpers.judge.anatomy import AnatomyProfile, anatomy_profile, height_bin, real_profile
from oasis_helpers.judge.distances import (
    KernelDistance,
    frechet_distance_equal,
    kernel_distance,
    mmd2_unbiased,
    polynomial_kernel,
    scaled_features,
)
from oasis_helpers.judge.network import (
    FEATURE_GRID,
    FEATURE_LAYER,
    FEATURE_WIDTH,
    JUDGE_FILE,
    LAYOUT_GRID,
    TARGETS,
    TISSUES,
    WORKING_SIZE,
    build_judge,
    feature_model,
    judge_features,
    judge_predictions,
    judge_targets,
    tissue_fractions,
    tissue_layout,
)
from oasis_helpers.judge.summary import (
    GENERATORS,
    VERDICT_COLUMNS,
    anatomy_profiles,
    equal_size,
    judge_summary,
    verdict_rows,
)
from oasis_helpers.judge.training import (
    DEFAULT_JUDGE_TRAINING,
    JUDGE_REPORT_FILE,
    JudgeResult,
    load_judge,
    save_judge,
    split_targets,
    train_judge,
    train_judge_on_splits,
    validation_report,
)
from oasis_helpers.judge.two_sample import (
    DEFAULT_C2ST,
    build_set_classifier,
    classifier_two_sample_test,
    held_out_halves,
)

__all__ = [
    "DEFAULT_C2ST",
    "DEFAULT_JUDGE_TRAINING",
    "FEATURE_GRID",
    "FEATURE_LAYER",
    "FEATURE_WIDTH",
    "GENERATORS",
    "JUDGE_FILE",
    "LAYOUT_GRID",
    "JUDGE_REPORT_FILE",
    "TARGETS",
    "TISSUES",
    "VERDICT_COLUMNS",
    "WORKING_SIZE",
    "AnatomyProfile",
    "JudgeResult",
    "KernelDistance",
    "anatomy_profile",
    "anatomy_profiles",
    "build_judge",
    "build_set_classifier",
    "classifier_two_sample_test",
    "equal_size",
    "feature_model",
    "frechet_distance_equal",
    "height_bin",
    "held_out_halves",
    "judge_features",
    "judge_predictions",
    "judge_summary",
    "judge_targets",
    "kernel_distance",
    "load_judge",
    "mmd2_unbiased",
    "polynomial_kernel",
    "real_profile",
    "save_judge",
    "scaled_features",
    "split_targets",
    "tissue_fractions",
    "tissue_layout",
    "train_judge",
    "train_judge_on_splits",
    "validation_report",
    "verdict_rows",
]
