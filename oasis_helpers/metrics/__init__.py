"""Image-quality, codebook and sample-quality metrics: SSIM, PSNR (whole image and inside
the brain), perplexity and codebook usage, Frechet distance, diversity and memorisation.

All image functions take float images ``[N, H, W, 1]`` (or ``[H, W, 1]`` for one
slice) with values in ``[0, max_val]`` and return NumPy arrays: one value per
slice (the ``*_per_slice`` functions) or their mean.

Whole image
    :func:`ssim_per_slice` is the SSIM of ``tf.image.ssim`` (11x11 Gaussian window,
    sigma 1.5, ``k1 = 0.01``, ``k2 = 0.03``), computed with a separable filter
    (:func:`structural_similarity`, many times faster without oneDNN), and
    :func:`psnr_per_slice` is
    ``tf.image.psnr`` (``10 log10(max_val^2 / MSE)``). Identical slices give
    PSNR ``inf``; the means cap each slice at ``max_psnr`` (default 100 dB) so
    that one perfect slice does not make the mean infinite.

Inside the brain
    Brain slices sit on a black background, which a decoder reproduces almost
    perfectly; the whole-image scores are therefore inflated by the background's
    share of the frame. The brain variants restrict the comparison to the brain:

    * the brain mask (:func:`brain_mask`) is ``target > threshold`` (default
      0.02 of the intensity range), dilated by ``dilation`` pixels (a max-pool),
      so dark sulci and ventricles inside the brain and the brain's edge count (the
      anomaly maps' brain, :func:`oasis_helpers.anomaly.brain_region`, is eroded
      instead: each docstring says why);
    * brain PSNR (:func:`brain_psnr_per_slice`) uses the MSE over the mask's
      pixels only: ``10 log10(max_val^2 / mean_{mask} (x - y)^2)``, i.e. the
      formula of ``tf.image.psnr`` restricted to the mask (equal to it for a
      full mask, which the tests check);
    * brain SSIM (:func:`brain_ssim_per_slice`) is ``tf.image.ssim`` computed on
      the **bounding box of the mask** (grown to at least the 11-pixel SSIM
      window), not on a masked SSIM map: ``tf.image.ssim`` returns only the mean
      of its map, and the bounding box of a brain is mostly brain, so this keeps
      the library's SSIM and drops most of the background. Slices whose mask is
      empty (no brain) get NaN, and the means ignore NaN.

Codebook
    :func:`perplexity` ``exp(-sum_k p_k log p_k)`` of the code histogram and
    :func:`codebook_usage` (fraction of the ``K`` codes that occur), from code
    indices of any shape; the same formulas as the quantizer's training metrics
    (re-used from :mod:`oasis_helpers.quantizer`), but over a whole set: the
    training log's ``batch_perplexity`` is a mean of per-batch perplexities, usually
    lower (one batch holds fewer distinct codes than a whole set).
    :func:`code_statistics` gives both and the histogram of a set of code grids at once
    (notebook 03); :func:`codebook_health` gives the whole-set statistics of a bare
    quantizer layer on a set of vectors (notebook 02).

Sample quality (notebook 04's prior samples against real slices)
    :func:`frechet_distance` between Gaussians fitted to :func:`encoder_features` (the
    VQ-VAE encoder's pre-quantisation features, pooled; the model is an argument, so
    this module imports no model), :func:`mean_pairwise_ssim` (diversity) and
    :func:`nearest_ssim` (memorisation).

Modules, one idea each:

* :mod:`~oasis_helpers.metrics.image_quality`: whole-image :func:`ssim` and :func:`psnr`
  (and per slice), with the checks of image batches;
* :mod:`~oasis_helpers.metrics.brain`: :func:`brain_mask`, :func:`brain_bounding_boxes`,
  :func:`brain_ssim_per_slice`, :func:`brain_psnr_per_slice`;
* :mod:`~oasis_helpers.metrics.reconstructions`: every image metric of a set,
  :func:`evaluate_reconstructions` and :func:`summarize`;
* :mod:`~oasis_helpers.metrics.codes`: :func:`code_histogram`, :func:`perplexity`,
  :func:`codebook_usage`, :func:`code_statistics`, :func:`codebook_health`;
* :mod:`~oasis_helpers.metrics.samples`: :func:`frechet_distance`, :func:`encoder_features`,
  :func:`mean_pairwise_ssim`, :func:`nearest_ssim`.
"""

from oasis_helpers.metrics.brain import (
    BRAIN_MASK_DILATION,
    BRAIN_THRESHOLD,
    brain_bounding_boxes,
    brain_mask,
    brain_psnr_per_slice,
    brain_ssim_per_slice,
)
from oasis_helpers.metrics.codes import (
    code_histogram,
    code_statistics,
    codebook_health,
    codebook_usage,
    perplexity,
)
from oasis_helpers.metrics.image_quality import (
    MAX_PSNR,
    SSIM_FILTER_SIZE,
    psnr,
    psnr_per_slice,
    ssim,
    ssim_per_slice,
    structural_similarity,
)
from oasis_helpers.metrics.reconstructions import evaluate_reconstructions, summarize
from oasis_helpers.metrics.samples import (
    encoder_features,
    frechet_distance,
    mean_pairwise_ssim,
    nearest_ssim,
)

__all__ = [
    "BRAIN_MASK_DILATION",
    "BRAIN_THRESHOLD",
    "MAX_PSNR",
    "SSIM_FILTER_SIZE",
    "brain_bounding_boxes",
    "brain_mask",
    "brain_psnr_per_slice",
    "brain_ssim_per_slice",
    "code_histogram",
    "code_statistics",
    "codebook_health",
    "codebook_usage",
    "encoder_features",
    "evaluate_reconstructions",
    "frechet_distance",
    "mean_pairwise_ssim",
    "nearest_ssim",
    "perplexity",
    "psnr",
    "psnr_per_slice",
    "ssim",
    "ssim_per_slice",
    "structural_similarity",
    "summarize",
]
