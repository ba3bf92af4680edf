"""Vector-quantizer layers (van den Oord et al. 2017) with codebook-health machinery.

Two Keras 3 layers turn continuous encoder outputs ``z_e`` of shape ``[..., D]``
into the nearest of ``K`` codebook vectors ``e_1 .. e_K`` (the codebook, ``[K, D]``):

* :class:`VectorQuantizer` learns the codebook by gradient descent on the
  *codebook loss* ``mean((sg[z_e] - e_k)^2)`` and keeps the encoder close to its
  codes with the *commitment loss* ``beta * mean((z_e - sg[e_k])^2)``.
* :class:`VectorQuantizerEMA` moves each code to the exponential moving average
  of the encoder outputs assigned to it (no codebook loss; only the commitment
  loss), as in Sonnet's ``VectorQuantizerEMA``.

The losses are defined once, in :func:`vq_losses`. Each layer calls it in its
forward pass with the very ``e_k`` it looked up (the codebook as read before any
restart of that step), and either adds the result with ``add_loss`` (a plain call:
Keras adds it to the training loss of any model) or returns it
(``layer(z_e, training=..., return_losses=True) -> (output, losses)``: what
:class:`oasis_helpers.models.VQVAE` uses, because ``add_loss`` keeps one Python
list per layer that the replicas of a ``MirroredStrategy`` share).

Both layers

* return ``z_e + sg[z_q - z_e]`` (the straight-through estimator: the forward
  value is ``z_q``, the gradient reaching the encoder is exactly the gradient
  arriving at the output);
* compute squared distances as ``||x||^2 - 2 x.e + ||e||^2`` with one matrix
  product (an ``[N, K]`` matrix; an ``[N, K, D]`` tensor is never formed), once
  per call;
* report the *batch* perplexity ``exp(-sum_k p_k log p_k)`` and codebook usage
  (fraction of codes used by the batch) as Keras metrics named
  ``"batch_perplexity"`` and ``"batch_codebook_usage"``; ``model.fit`` logs their
  mean over the epoch's batches, which is not the perplexity of a whole set
  (:func:`oasis_helpers.metrics.perplexity` computes that one);
* optionally restart dead codes (unused for ``dead_code_steps`` training steps)
  from encoder outputs of the current batch, and optionally initialise the
  codebook from the first training batch (``init="kmeans++"`` or ``"random"``);
* keep the codebook and the distances in float32 under ``mixed_float16``;
* aggregate code counts (and, for EMA, the assigned sums) across replicas
  under ``tf.distribute`` so that the update equals the one-device update.

Defaults (module constants ``DEFAULT_*``, which :data:`oasis_helpers.models.DEFAULT_CONFIG`
also uses): ``commitment_cost=0.25`` (the paper), ``init="kmeans++"``,
``dead_code_steps=20`` and, for EMA, ``decay=0.95``: the VQ-VAE settings of
notebook 03, measured there. ``benchmarks/quantizer_defaults.py`` measured the health
options on the demo cohort with K=512, D=16 (4x4 brain-slice patches, and a tiny conv
VQ-VAE on 64x64 slices; ``benchmarks/results/quantizer_defaults_res*.json``: one record
per ``task``, ``layer``, ``init`` and ``dead_code_steps``, with its ``usage``, ``mse`` and
``restarts``; the README quotes them). Without data initialisation or restarts both layers
collapse to a few codes. Restarts lift the usage to most of the codebook and cut the
error. k-means++ seeding alone fixes the patch task but not the autoencoder (the encoder
moves after the first batch), and with restarts it needs fewer of them. Restarting after
100 rather than 20 unused steps gives the lowest patch error in long runs, with fewer
restarts; 20 wins short runs, which is what the series trains (a few thousand steps of a
fast-moving encoder), so 20 is the default.

The notation ``sg[.]`` is the stop-gradient operator. Losses are *means over all
elements* (``N * D`` numbers for ``N`` vectors of size ``D``).

Modules, one idea each:

* :mod:`~oasis_helpers.quantizer.layer`: :class:`VectorQuantizer` and the defaults
  (``DEFAULT_*``, :data:`INIT_METHODS`);
* :mod:`~oasis_helpers.quantizer.ema`: :class:`VectorQuantizerEMA`, the moving-average codebook;
* :mod:`~oasis_helpers.quantizer.distances`: :func:`squared_distances`, the nearest-code lookup;
* :mod:`~oasis_helpers.quantizer.losses`: :func:`vq_losses`, the codebook and commitment losses;
* :mod:`~oasis_helpers.quantizer.statistics`: :func:`code_counts`,
  :func:`perplexity_from_counts`, :func:`codebook_usage_from_counts`;
* :mod:`~oasis_helpers.quantizer.seeding`: codebook rows from data (:func:`random_rows`,
  :func:`kmeans_plus_plus`);
* :mod:`~oasis_helpers.quantizer.replicas`: sums over replicas and the first replica's values
  under ``tf.distribute`` (:func:`replica_sum`, :func:`from_first_replica`);
* :mod:`~oasis_helpers.quantizer.fitting`: a bare layer fitted to fixed vectors
  (:func:`fit_to_vectors`, :data:`PATCH_STUDY`), notebook 02's patch experiments.
"""

from oasis_helpers.quantizer.distances import squared_distances
from oasis_helpers.quantizer.ema import VectorQuantizerEMA
from oasis_helpers.quantizer.fitting import PATCH_STUDY, fit_to_vectors
from oasis_helpers.quantizer.layer import (
    DEFAULT_COMMITMENT_COST,
    DEFAULT_DEAD_CODE_STEPS,
    DEFAULT_EMA_DECAY,
    DEFAULT_INIT,
    INIT_METHODS,
    VectorQuantizer,
)
from oasis_helpers.quantizer.losses import vq_losses
from oasis_helpers.quantizer.seeding import kmeans_plus_plus
from oasis_helpers.quantizer.statistics import (
    code_counts,
    codebook_usage_from_counts,
    perplexity_from_counts,
)

__all__ = [
    "DEFAULT_COMMITMENT_COST",
    "DEFAULT_DEAD_CODE_STEPS",
    "DEFAULT_EMA_DECAY",
    "DEFAULT_INIT",
    "INIT_METHODS",
    "PATCH_STUDY",
    "VectorQuantizer",
    "VectorQuantizerEMA",
    "code_counts",
    "codebook_usage_from_counts",
    "fit_to_vectors",
    "kmeans_plus_plus",
    "perplexity_from_counts",
    "squared_distances",
    "vq_losses",
]
