"""Unsupervised lesion detection: synthetic lesions, anomaly maps, prior-guided restoration
and their evaluation.

A model of healthy brains (the VQ-VAE and its PixelCNN prior) should explain a healthy
slice well and a damaged one badly; *where* it fails is the anomaly map. The lesions, the
maps, the code regions and the evaluation work on plain arrays; the restoration and the
pipeline run the models (:mod:`oasis_helpers.prior`, :mod:`oasis_helpers.blind_spot`, a
VQ-VAE), which they import only when called.

Shapes: images are float32 ``[N, H, W, 1]`` in ``[0, 1]``; masks and anomaly maps are
``[N, H, W]`` (bool and float32); code grids are int ``[N, h, w]`` with ``H = f h`` for the
encoder's downsampling factor ``f``; ``K`` is the codebook size.

Modules, one idea each:

* :mod:`~oasis_helpers.anomaly.lesions`: :func:`brain_region` and
  :func:`synthesize_lesions`, the synthetic lesions of the evaluation;
* :mod:`~oasis_helpers.anomaly.lesion_kinds`: lesions of a stated size, intensity, edge and
  shape (:class:`LesionKind`, :func:`draw_lesion_kind`), for the lesion-kind study;
* :mod:`~oasis_helpers.anomaly.maps`: difference maps (:func:`residual_map`,
  :func:`restoration_map`), :func:`upsample_grid_map` and :func:`postprocess_map`;
* :mod:`~oasis_helpers.anomaly.scores`: intensity- and texture-aware restoration scores
  calibrated on healthy slices (:func:`fit_score_reference`, :func:`restoration_score`:
  a z-score of the difference per tissue bin, the distance to the healed image's local
  intensity distribution, texture absence);
* :mod:`~oasis_helpers.anomaly.code_regions`: which codes are brain
  (:func:`brain_codes`) and which are lesion (:func:`lesion_codes`);
* :mod:`~oasis_helpers.anomaly.restoration`: prior-guided restoration, the reference
  (:func:`restore_codes`) and on the prior's fast sampler (:func:`restore_with_prior`,
  :func:`restore_with_sampler`), and its threshold;
* :mod:`~oasis_helpers.anomaly.pipeline`: notebook 05's three maps of a batch
  (:func:`anomaly_maps`), the blind-spot model's flags and the restoration region;
* :mod:`~oasis_helpers.anomaly.evaluation`: pixel, code and slice metrics
  (:func:`evaluate_map`);
* :mod:`~oasis_helpers.anomaly.thresholds`: thresholds fixed on healthy slices at a stated
  false-positive rate, and per-lesion detection (:func:`healthy_fpr_scores`);
* :mod:`~oasis_helpers.anomaly.sweep`: the restoration setting chosen on validation slices,
  speed against quality (:func:`restoration_sweep`);
* :mod:`~oasis_helpers.anomaly.summary`: what notebook 05 reports (:func:`anomaly_summary`);
* :mod:`~oasis_helpers.anomaly.inputs`: the shape checks they share.

The user's own annotated lesions are read by :func:`oasis_helpers.data.load_lesion_dir`.
Nothing here draws: figures belong to :mod:`oasis_helpers.plots`.
"""

from oasis_helpers.anomaly.code_regions import (
    LESION_CODE_COVERAGE,
    brain_codes,
    code_region,
    covered_codes,
    lesion_codes,
)
from oasis_helpers.anomaly.evaluation import (
    METRIC_KEYS,
    best_dice,
    choose_dice_threshold,
    code_level_auroc,
    dice_at_threshold,
    evaluate_map,
    pixel_auprc,
    pixel_auroc,
    slice_auroc,
    slice_scores,
)
from oasis_helpers.anomaly.lesion_kinds import (
    EDGES,
    ELLIPSE_ASPECT,
    INTENSITIES,
    REFERENCE_KIND,
    SHAPES,
    LesionKind,
    draw_lesion_kind,
    draw_mixed_lesions,
    study_kinds,
)
from oasis_helpers.anomaly.lesions import (
    DEFAULT_EROSION,
    MIN_ALPHA,
    brain_region,
    synthesize_lesions,
)
from oasis_helpers.anomaly.maps import (
    DEFAULT_DIFFERENCE_SMOOTHING,
    DEFAULT_MEDIAN_SIZE,
    postprocess_map,
    residual_map,
    restoration_map,
    upsample_grid_map,
)
from oasis_helpers.anomaly.pipeline import (
    DEFAULT_FLAG_DILATION,
    DEFAULT_FLAG_QUANTILES,
    DEFAULT_FLAG_SMOOTHING,
    DEFAULT_LIKELIHOOD_SMOOTHING,
    METHODS,
    AnomalyMaps,
    anomaly_maps,
    flag_probabilities,
    rescore,
    restoration_region,
    scored_restoration_map,
)
from oasis_helpers.anomaly.restoration import (
    DEFAULT_NUM_RESTORATIONS,
    DEFAULT_RESTORATION_QUANTILE,
    ConditionalProbabilities,
    Restoration,
    choose_restoration_threshold,
    conditional_from_full_pass,
    observed_code_probabilities,
    restore_codes,
    restore_repeatedly,
    restore_with_prior,
    restore_with_sampler,
)
from oasis_helpers.anomaly.scores import (
    COMPONENTS,
    DEFAULT_RESTORATION_SCORE,
    DEFAULT_SCORE_QUANTILE,
    DEFAULT_SCORE_WINDOW,
    SCORES,
    ScoreReference,
    fit_score_reference,
    restoration_score,
    score_components,
)
from oasis_helpers.anomaly.summary import anomaly_summary
from oasis_helpers.anomaly.sweep import TRADEOFF_KEYS, RestorationSweep, restoration_sweep
from oasis_helpers.anomaly.thresholds import (
    DETECTED_FRACTION,
    HEALTHY_FPRS,
    healthy_fpr_scores,
    lesions_detected,
    threshold_at_healthy_fpr,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_RESTORATION_SCORE",
    "DEFAULT_SCORE_QUANTILE",
    "DEFAULT_SCORE_WINDOW",
    "SCORES",
    "ScoreReference",
    "fit_score_reference",
    "restoration_score",
    "score_components",
    "DEFAULT_DIFFERENCE_SMOOTHING",
    "DEFAULT_EROSION",
    "DEFAULT_FLAG_DILATION",
    "DEFAULT_FLAG_QUANTILES",
    "DEFAULT_FLAG_SMOOTHING",
    "DEFAULT_LIKELIHOOD_SMOOTHING",
    "DEFAULT_MEDIAN_SIZE",
    "DEFAULT_NUM_RESTORATIONS",
    "DEFAULT_RESTORATION_QUANTILE",
    "DETECTED_FRACTION",
    "EDGES",
    "ELLIPSE_ASPECT",
    "INTENSITIES",
    "REFERENCE_KIND",
    "SHAPES",
    "LesionKind",
    "HEALTHY_FPRS",
    "LESION_CODE_COVERAGE",
    "METHODS",
    "METRIC_KEYS",
    "MIN_ALPHA",
    "TRADEOFF_KEYS",
    "AnomalyMaps",
    "ConditionalProbabilities",
    "Restoration",
    "RestorationSweep",
    "anomaly_maps",
    "anomaly_summary",
    "best_dice",
    "brain_codes",
    "brain_region",
    "choose_dice_threshold",
    "choose_restoration_threshold",
    "code_level_auroc",
    "code_region",
    "conditional_from_full_pass",
    "covered_codes",
    "dice_at_threshold",
    "draw_lesion_kind",
    "draw_mixed_lesions",
    "evaluate_map",
    "flag_probabilities",
    "healthy_fpr_scores",
    "lesion_codes",
    "lesions_detected",
    "observed_code_probabilities",
    "pixel_auprc",
    "pixel_auroc",
    "postprocess_map",
    "residual_map",
    "restoration_map",
    "rescore",
    "restoration_region",
    "restoration_sweep",
    "restore_codes",
    "restore_repeatedly",
    "restore_with_prior",
    "restore_with_sampler",
    "scored_restoration_map",
    "slice_auroc",
    "slice_scores",
    "study_kinds",
    "synthesize_lesions",
    "threshold_at_healthy_fpr",
    "upsample_grid_map",
]
