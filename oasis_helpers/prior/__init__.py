"""A gated PixelCNN prior over VQ-VAE code grids: the model, its likelihood, baselines, sampling.

The prior (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders") factorises the probability of a code grid ``c`` of ``h x w`` codes from
a codebook of ``K`` in raster order (row by row, left to right)::

    p(c) = prod_{i, j} p(c[i, j] | c[<i, :], c[i, <j]  [, position])

Shapes, for ``B`` grids::

    codes          [B, h, w]    int32 in [0, K)
    slice_heights  [B]          float32 in [0, 1]: the slice's normalised axial height
                                (0 lowest slice of its subject, 1 highest); only when
                                the model is ``conditional``
    logits         [B, h, w, K] float32: unnormalised log p(c[i, j] = k | past)

Modules, one idea each:

* :mod:`~oasis_helpers.prior.model`: :class:`GatedPixelCNN` (the architecture and its
  maths), :func:`make_prior`, :func:`compile_prior`, :func:`load_prior`,
  :data:`DEFAULT_PRIOR` and :data:`DEFAULT_PRIOR_TRAINING`;
* :mod:`~oasis_helpers.prior.gated_block`: :class:`GatedBlock`, one block of both stacks,
  and :func:`gate`;
* :mod:`~oasis_helpers.prior.dataset`: :func:`make_code_dataset`, the training pairs;
* :mod:`~oasis_helpers.prior.fitting`: :func:`train_prior`, on notebook 03's code grids, in
  the folder of its configuration;
* :mod:`~oasis_helpers.prior.likelihood`: :func:`prior_logits` and the negative
  log-likelihood in bits per code (:func:`nll_map_bits`, :func:`nll_bits_per_slice`,
  :func:`nll_bits_per_code`);
* :mod:`~oasis_helpers.prior.baselines`: :class:`UniformBaseline`,
  :class:`UnigramBaseline`, :class:`NeighbourBaseline`, with the same interface;
* :mod:`~oasis_helpers.prior.sampling`: :class:`FastSampler` (cached, compiled, with a
  public row walk), :func:`sample_codes`, :func:`sample_codes_naive`, temperature and
  top-k draws (:func:`draw_codes`);
* :mod:`~oasis_helpers.prior.receptive_field`: what a position sees, measured
  (:func:`receptive_field_map`) and for a plain masked PixelCNN
  (:func:`plain_pixelcnn_receptive_field`);
* :mod:`~oasis_helpers.prior.conditioning`: what the prior is conditioned on, read from
  the code grids (:func:`heights_if_conditional`);
* :mod:`~oasis_helpers.prior.quality`: how fast and how good samples are: a timed batch
  (:func:`timed_samples`), many samples drawn in chunks (:func:`sample_many`) and their
  quality (:func:`sample_quality`: Frechet distance, diversity, memorisation, with the
  measures of :mod:`oasis_helpers.metrics`);
* :mod:`~oasis_helpers.prior.summary`: what notebook 04 reports (:func:`prior_summary`);
* :mod:`~oasis_helpers.prior.inputs`: the checks of codes and counts they share (the slice
  heights' check is :func:`oasis_helpers.code_location.check_slice_heights`).

Restoring lesioned grids with the prior is :mod:`oasis_helpers.anomaly.restoration`'s.
Importing this package imports TensorFlow and Keras (and registers the model's classes for
``prior.keras`` files, :data:`PRIOR_FILE`).
"""

from oasis_helpers.prior.baselines import (
    SMOOTHING_CANDIDATES,
    NeighbourBaseline,
    UniformBaseline,
    UnigramBaseline,
)
from oasis_helpers.prior.conditioning import heights_if_conditional
from oasis_helpers.prior.dataset import make_code_dataset
from oasis_helpers.prior.fitting import train_prior
from oasis_helpers.prior.gated_block import GatedBlock
from oasis_helpers.prior.likelihood import (
    nll_bits_per_code,
    nll_bits_per_slice,
    nll_map_bits,
    prior_logits,
)
from oasis_helpers.prior.model import (
    DEFAULT_PRIOR,
    DEFAULT_PRIOR_TRAINING,
    PRIOR_FILE,
    GatedPixelCNN,
    compile_prior,
    load_prior,
    make_prior,
)
from oasis_helpers.prior.quality import (
    SAMPLE_CHUNK,
    SampleQuality,
    TimedSamples,
    sample_many,
    sample_quality,
    timed_samples,
)
from oasis_helpers.prior.receptive_field import (
    plain_pixelcnn_receptive_field,
    receptive_field_map,
)
from oasis_helpers.prior.sampling import (
    FastSampler,
    draw_codes,
    fast_sampler,
    sample_codes,
    sample_codes_naive,
)
from oasis_helpers.prior.summary import prior_summary

__all__ = [
    "DEFAULT_PRIOR",
    "DEFAULT_PRIOR_TRAINING",
    "PRIOR_FILE",
    "SAMPLE_CHUNK",
    "SMOOTHING_CANDIDATES",
    "FastSampler",
    "GatedBlock",
    "GatedPixelCNN",
    "NeighbourBaseline",
    "SampleQuality",
    "TimedSamples",
    "UniformBaseline",
    "UnigramBaseline",
    "compile_prior",
    "draw_codes",
    "fast_sampler",
    "heights_if_conditional",
    "load_prior",
    "make_code_dataset",
    "make_prior",
    "nll_bits_per_code",
    "nll_bits_per_slice",
    "nll_map_bits",
    "plain_pixelcnn_receptive_field",
    "prior_logits",
    "prior_summary",
    "receptive_field_map",
    "sample_codes",
    "sample_codes_naive",
    "sample_many",
    "sample_quality",
    "timed_samples",
    "train_prior",
]
