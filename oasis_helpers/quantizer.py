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
"""

from __future__ import annotations

import random
import time
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf
from keras import ops

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

#: Accepted values of ``init`` (``None`` and ``"uniform"`` both keep the initializer's codebook).
INIT_METHODS = (None, "uniform", "random", "kmeans++")

#: ``beta``, the weight of the commitment loss (the paper's value).
DEFAULT_COMMITMENT_COST = 0.25
#: Codebook initialisation from the first training batch.
DEFAULT_INIT = "kmeans++"
#: Restart a code that no vector chose for this many training steps.
DEFAULT_DEAD_CODE_STEPS = 20
#: ``gamma``, the decay of the EMA codebook's moving averages.
DEFAULT_EMA_DECAY = 0.95

#: The patch study: a quantizer alone fitted to ``patch_size x patch_size`` patches of brain
#: slices (``embedding_dim = patch_size**2`` numbers each) with ``num_embeddings`` codes, for
#: ``steps`` steps of ``batch_size`` patches (Adam at ``learning_rate`` for the
#: gradient-trained codebook). Notebook 02's defaults (the README's notebook-02 table) and the
#: "patches" task of ``benchmarks/quantizer_defaults.py`` (which chose the defaults above).
#: Its codebook is twice the series' VQ-VAE's (``models.DEFAULT_CONFIG``: 256).
PATCH_STUDY: dict[str, Any] = {
    "num_embeddings": 512,  # K
    "embedding_dim": 16,  # D: the 16 pixels of a 4x4 patch
    "patch_size": 4,
    "commitment_cost": DEFAULT_COMMITMENT_COST,  # beta
    "steps": 300,
    "batch_size": 1024,
    "learning_rate": 1e-3,
}

# k-means++ seeding looks at no more than this many (randomly chosen) vectors of the batch.
_KMEANS_MAX_POINTS = 8192


# ----------------------------------------------------------------------------------------------
# Pure-tensor helpers (also re-exported by oasis_helpers.metrics)
# ----------------------------------------------------------------------------------------------
def squared_distances(flat_inputs, codebook):
    """Squared Euclidean distances between vectors and codes, without an ``[N, K, D]`` tensor.

    ``d[n, k] = ||x_n||^2 - 2 x_n . e_k + ||e_k||^2``.

    Args:
        flat_inputs: float ``[N, D]``.
        codebook: float ``[K, D]`` (same dtype).

    Returns:
        ``[N, K]`` distances (may be very slightly negative from rounding).
    """
    input_norms = ops.sum(ops.square(flat_inputs), axis=1, keepdims=True)  # [N, 1]
    code_norms = ops.sum(ops.square(codebook), axis=1)  # [K]
    cross = ops.matmul(flat_inputs, ops.transpose(codebook))  # [N, K]
    return input_norms - 2.0 * cross + ops.expand_dims(code_norms, 0)


def vq_losses(inputs, quantized, commitment_cost: float, codebook_loss: bool = True) -> dict:
    """The quantizer losses, the only place they are defined.

    For encoder outputs ``z_e`` (``inputs``) and their nearest codes ``e_k``
    (``quantized``, gathered from the codebook *with* its gradient), means over all
    ``N * D`` elements::

        codebook_loss   = mean((sg[z_e] - e_k)^2)            trains the codebook
        commitment_loss = beta * mean((z_e - sg[e_k])^2)     keeps z_e near its code

    Args:
        inputs: float32 ``[..., D]``, ``z_e``.
        quantized: float32 ``[..., D]``, ``e_k`` (the same tensor the forward pass used).
        commitment_cost: ``beta``.
        codebook_loss: False for an EMA codebook (moved by averages, not by a loss).

    Returns:
        ``{"codebook_loss": ..., "commitment_loss": ...}`` (float32 scalars; without
        ``"codebook_loss"`` when ``codebook_loss`` is False). Their sum is the
        quantizer's contribution to the training loss.
    """
    losses = {}
    if codebook_loss:
        losses["codebook_loss"] = ops.mean(ops.square(ops.stop_gradient(inputs) - quantized))
    losses["commitment_loss"] = commitment_cost * ops.mean(
        ops.square(inputs - ops.stop_gradient(quantized))
    )
    return losses


def code_counts(indices, num_embeddings: int):
    """How often each code occurs: float32 ``[K]`` from int indices of any shape.

    Written with ``unsorted_segment_sum`` (not ``bincount``) so that it compiles with
    XLA, which Keras uses for ``fit`` on GPUs (``jit_compile="auto"``).
    """
    flat = tf.reshape(tf.cast(indices, tf.int32), [-1])
    return tf.math.unsorted_segment_sum(tf.ones_like(flat, tf.float32), flat, num_embeddings)


def perplexity_from_counts(counts):
    """``exp(H(p))`` with ``p = counts / sum(counts)`` and ``H(p) = -sum_k p_k log p_k``.

    Equals ``K`` when all ``K`` codes are used equally often and 1 when a single
    code is used: the "effective number of codes". Terms with ``p_k = 0`` count
    as 0. Returns a float32 scalar (1.0 for an all-zero count vector).
    """
    counts = tf.cast(counts, tf.float32)
    total = tf.reduce_sum(counts)
    probabilities = counts / tf.maximum(total, 1e-12)
    safe = tf.where(probabilities > 0, probabilities, tf.ones_like(probabilities))
    entropy = -tf.reduce_sum(probabilities * tf.math.log(safe))
    return tf.exp(entropy)


def codebook_usage_from_counts(counts):
    """Fraction of codes with a non-zero count: float32 scalar in ``[0, 1]``."""
    counts = tf.cast(counts, tf.float32)
    return tf.reduce_mean(tf.cast(counts > 0, tf.float32))


def _random_rows(flat_inputs, count: int, seed):
    """``count`` rows of ``flat_inputs`` ([N, D]), distinct while ``N >= count``.

    Stateless: the same ``seed`` (int32 ``[2]``) gives the same rows.
    """
    num_rows = tf.shape(flat_inputs)[0]
    scores = tf.random.stateless_uniform([num_rows], seed=seed)
    take = tf.minimum(num_rows, count)
    _, chosen = tf.math.top_k(scores, k=take, sorted=False)
    chosen = tf.gather(chosen, tf.range(count) % take)  # repeats only when N < count
    return tf.gather(flat_inputs, chosen)


def kmeans_plus_plus(points, count: int, seed):
    """k-means++ seeding (Arthur & Vassilvitskii 2007) in graph-compatible TensorFlow.

    The first centre is a uniformly random point; every further centre is a point
    drawn with probability proportional to its squared distance to the nearest
    centre chosen so far. Stateless given ``seed`` (int32 ``[2]``).

    Args:
        points: float32 ``[M, D]``.
        count: number of centres ``K``.
        seed: int32 ``[2]``.

    Returns:
        float32 ``[K, D]`` centres (rows of ``points``; repeated only when fewer
        than ``K`` distinct points exist).
    """
    points = tf.convert_to_tensor(points, tf.float32)
    num_points = tf.shape(points)[0]
    seed = tf.cast(seed, tf.int32)
    first = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=num_points, dtype=tf.int32)
    first_centre = tf.gather(points, first)
    centres = tf.TensorArray(tf.float32, size=count, element_shape=first_centre.shape)
    centres = centres.write(0, first_centre)
    nearest = tf.reduce_sum(tf.square(points - first_centre), axis=1)  # [M]

    def body(step, centres, nearest):
        logits = tf.where(
            tf.reduce_max(nearest) > 0,
            tf.math.log(tf.maximum(nearest, 0.0)),  # log 0 = -inf: never drawn again
            tf.zeros_like(nearest),  # all points already centres: draw uniformly
        )
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        chosen = tf.random.stateless_categorical(logits[None, :], 1, seed=step_seed)[0, 0]
        centre = tf.gather(points, chosen)
        nearest = tf.minimum(nearest, tf.reduce_sum(tf.square(points - centre), axis=1))
        return step + 1, centres.write(step, centre), nearest

    _, centres, _ = tf.while_loop(
        lambda step, *_: step < count, body, (tf.constant(1), centres, nearest)
    )
    return centres.stack()


def _replica_sum(values):
    """All-reduce (SUM) across replicas when running in a replica context with >1 replicas."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def _from_first_replica(values):
    """``values`` of the first replica of the whole cluster, on every replica.

    Data-derived codebook rows (k-means++ initialisation, dead-code restarts) come
    from each replica's own batch. Variables with ``aggregation="only_first_replica"``
    keep the first replica's assignment *per worker*, so under
    ``MultiWorkerMirroredStrategy`` each worker would keep a different codebook.
    Broadcasting replica 0's values (an all-reduce of ``[K, D]`` floats, zero
    everywhere but on replica 0) keeps every copy identical.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return values
    first = tf.equal(tf.convert_to_tensor(context.replica_id_in_sync_group), 0)
    return context.all_reduce(
        tf.distribute.ReduceOp.SUM, tf.where(first, values, tf.zeros_like(values))
    )


# ----------------------------------------------------------------------------------------------
# The layers
# ----------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="oasis_helpers")
class VectorQuantizer(keras.layers.Layer):
    """Vector quantizer with a codebook learnt by gradient descent (VQ-VAE, 2017).

    Maths, for encoder outputs ``z_e`` (``N`` vectors of size ``D`` once the
    leading axes are flattened) and codebook ``e`` (``[K, D]``)::

        k*(n)   = argmin_k ||z_e[n] - e_k||^2                   (nearest code)
        z_q[n]  = e_{k*(n)}
        output  = z_e + sg[z_q - z_e]                            (straight-through)
        codebook_loss   = mean over N*D elements of (sg[z_e] - z_q)^2
        commitment_loss = commitment_cost * mean over N*D of (z_e - sg[z_q])^2

    The losses come from :func:`vq_losses`, called with the forward pass's own
    ``z_e`` and ``z_q``. A plain call adds them with ``self.add_loss`` (in this
    order), so they are in ``layer.losses`` / ``model.losses`` and Keras adds them
    to the training loss; ``return_losses=True`` returns them instead (and adds
    nothing), which is replica-safe under ``tf.distribute``. ``sg`` is the stop-gradient.

    Codebook health (both switchable; defaults chosen by measurement on brain
    slices, see the module docstring):

    * ``dead_code_steps``: a code not chosen by any vector for this many training
      steps is re-initialised from a randomly chosen encoder output of the
      current batch (``None`` or 0: never). ``dead_codes_restarted`` counts them.
    * ``init``: on the first training batch the codebook is replaced by
      ``"kmeans++"`` seeds or a ``"random"`` sample of the batch's encoder
      outputs; ``None`` (or ``"uniform"``) keeps ``embeddings_initializer``'s values.

    Metrics ``"batch_perplexity"`` (``exp`` of the entropy of the batch's code
    histogram: 1 .. K) and ``"batch_codebook_usage"`` (fraction of codes the batch
    uses) are ``keras.metrics.Mean`` objects on the layer; Keras' ``fit`` and
    ``evaluate`` report their mean over the batches (and reset them each epoch).

    Precision: the codebook, the distances and the losses are float32 whatever
    the dtype policy; the output is cast to the layer's compute dtype (float16
    under ``mixed_float16``).

    Args:
        num_embeddings: ``K``, the number of codes.
        embedding_dim: ``D``, the size of each code (last axis of the input).
        commitment_cost: ``beta``, weight of the commitment loss (paper: 0.25).
        init: ``"kmeans++"``, ``"random"``, ``None`` or ``"uniform"`` (see above).
        dead_code_steps: restart codes unused for this many training steps.
        embeddings_initializer: Keras initializer of the codebook before any data
            initialisation (default: uniform in [-0.05, 0.05]).
        seed: integer seed of the layer's random choices (data initialisation,
            restarts); ``None`` draws one from Python's ``random`` (seeded by
            ``runs.seed_everything``).

    Call arguments:
        inputs: ``[..., D]`` float tensor (``z_e``).
        training: Python bool; state (data initialisation, restarts, EMA) only
            changes when True and the layer is trainable.
        return_losses: False (default): add the losses with ``add_loss`` and return
            the output; True: add nothing and return ``(output, losses)``, with
            ``losses`` the dict of :func:`vq_losses`.

    Returns:
        ``[..., D]`` tensor in the compute dtype: ``z_q`` forward, identity gradient
        (and the losses, see ``return_losses``).

    Layer state (weights):
        ``embeddings`` ``[K, D]`` float32 (trainable here), ``steps_since_used``
        ``[K]`` int32, ``dead_codes_restarted_total`` ``[]`` int32,
        ``initialized`` ``[]`` int32, ``training_steps`` ``[]`` int32.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = DEFAULT_COMMITMENT_COST,
        init: str | None = DEFAULT_INIT,
        dead_code_steps: int | None = DEFAULT_DEAD_CODE_STEPS,
        embeddings_initializer: Any = "random_uniform",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_embeddings) < 1:
            raise ValueError(f"num_embeddings must be a positive integer, got {num_embeddings!r}")
        if int(embedding_dim) < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
        if float(commitment_cost) < 0:
            raise ValueError(f"commitment_cost must be >= 0, got {commitment_cost!r}")
        if init not in INIT_METHODS:
            raise ValueError(f"init must be one of {INIT_METHODS}, got {init!r}")
        if dead_code_steps is not None and int(dead_code_steps) < 0:
            raise ValueError(f"dead_code_steps must be None or >= 0, got {dead_code_steps!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.commitment_cost = float(commitment_cost)
        self.init = init
        self.dead_code_steps = None if not dead_code_steps else int(dead_code_steps)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.seed = int(seed) if seed is not None else random.randint(0, 2**30)
        self.perplexity_tracker = keras.metrics.Mean(name="batch_perplexity")
        self.usage_tracker = keras.metrics.Mean(name="batch_codebook_usage")

    # -- weights --------------------------------------------------------------------------------
    def _state_weight(self, name, shape, dtype="int32", initializer="zeros", trainable=False):
        # ONLY_FIRST_REPLICA: assignments inside a replica context (MirroredStrategy) are
        # allowed and take replica 0's value; all replicas compute the same value anyway.
        return self.add_weight(
            name=name,
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            trainable=trainable,
            autocast=False,
            aggregation="only_first_replica",
        )

    def build(self, input_shape):
        if input_shape[-1] is not None and int(input_shape[-1]) != self.embedding_dim:
            raise ValueError(
                f"{self.name}: the last axis of the input has size {input_shape[-1]}, but "
                f"embedding_dim is {self.embedding_dim}; the encoder must output vectors of "
                f"size embedding_dim."
            )
        with tf.init_scope():
            initial = tf.convert_to_tensor(
                self.embeddings_initializer((self.num_embeddings, self.embedding_dim), "float32")
            )
        self.embeddings = self._state_weight(
            "embeddings",
            (self.num_embeddings, self.embedding_dim),
            dtype="float32",
            initializer=lambda shape, dtype=None: initial,
            trainable=self._codebook_trainable,
        )
        self.steps_since_used = self._state_weight("steps_since_used", (self.num_embeddings,))
        self.dead_codes_restarted_total = self._state_weight("dead_codes_restarted", ())
        self.initialized = self._state_weight("initialized", ())
        self.training_steps = self._state_weight("training_steps", ())
        self._build_extra_state(initial)

    _codebook_trainable = True

    def _build_extra_state(self, initial_codebook):
        """Hook for subclasses (the EMA statistics)."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # -- public helpers -------------------------------------------------------------------------
    @property
    def codebook(self):
        """The codebook as a float32 ``[K, D]`` tensor."""
        return ops.convert_to_tensor(self.embeddings)

    @property
    def dead_codes_restarted(self) -> int:
        """How many code restarts happened so far (a code restarted twice counts twice)."""
        return int(ops.convert_to_numpy(self.dead_codes_restarted_total))

    def set_codebook(self, values: npt.ArrayLike) -> None:
        """Replace the codebook (``[K, D]``) and mark it initialised (no data init follows)."""
        if not self.built:
            self.build((None, self.embedding_dim))
        values = tf.cast(tf.convert_to_tensor(values), tf.float32)
        if tuple(values.shape) != (self.num_embeddings, self.embedding_dim):
            raise ValueError(
                f"set_codebook expects shape {(self.num_embeddings, self.embedding_dim)}, "
                f"got {tuple(values.shape)}"
            )
        self._reset_codes(tf.ones([self.num_embeddings], tf.bool), values)
        self.initialized.assign(1)

    def code_indices(self, inputs):
        """Index of the nearest code for every vector: int32 ``[...]`` for ``[..., D]`` inputs."""
        flat = ops.reshape(ops.cast(inputs, "float32"), (-1, self.embedding_dim))
        indices = ops.argmin(squared_distances(flat, self.codebook), axis=1)
        return ops.reshape(ops.cast(indices, "int32"), ops.shape(inputs)[:-1])

    def lookup(self, indices):
        """Codebook vectors of integer ``indices`` ``[...]``: float32 ``[..., D]``."""
        return ops.take(self.codebook, ops.cast(indices, "int32"), axis=0)

    # -- the forward pass -----------------------------------------------------------------------
    def call(self, inputs, training=None, return_losses=False):
        # A frozen layer (trainable=False) keeps its state, like BatchNormalization.
        training = bool(training) and self.trainable
        inputs32 = tf.cast(inputs, tf.float32)
        flat = tf.reshape(inputs32, [-1, self.embedding_dim])

        if training and self.init not in (None, "uniform"):
            self._initialise_from_batch(flat)
        codebook = tf.convert_to_tensor(self.embeddings)  # read after a possible data init

        distances = squared_distances(flat, codebook)  # [N, K]
        flat_indices = tf.argmin(distances, axis=1, output_type=tf.int32)  # [N]
        quantized = tf.reshape(tf.gather(codebook, flat_indices), tf.shape(inputs32))
        counts = _replica_sum(code_counts(flat_indices, self.num_embeddings))  # [K], global

        # the losses of this forward pass: its z_e and the e_k it chose (read before restarts)
        losses = vq_losses(
            inputs32, quantized, self.commitment_cost, codebook_loss=self._codebook_trainable
        )
        if training:
            codebook = self._update_codebook(flat, flat_indices, counts, codebook)
            self._track_and_restart(flat, counts, codebook)
        self.perplexity_tracker.update_state(perplexity_from_counts(counts))
        self.usage_tracker.update_state(codebook_usage_from_counts(counts))

        straight_through = inputs32 + tf.stop_gradient(quantized - inputs32)
        outputs = tf.cast(straight_through, self.compute_dtype)
        if return_losses:
            return outputs, losses
        for loss in losses.values():
            self.add_loss(loss)
        return outputs

    def _update_codebook(self, flat, flat_indices, counts, codebook):
        """Hook: the EMA update. The gradient-trained codebook changes in the optimizer."""
        return codebook

    # -- codebook health ------------------------------------------------------------------------
    def _seed(self, purpose: int):
        """A stateless seed that differs per training step and per purpose."""
        return tf.stack(
            [tf.constant(self.seed % 2**30 + purpose, tf.int32), self.training_steps.value]
        )

    def _reset_codes(self, mask, values):
        """Set codebook rows where ``mask`` ([K] bool) to ``values`` ([K, D]); return the codebook.

        Assignments are unconditional (values chosen with ``tf.where``) so that no
        synchronisation point sits inside a ``tf.cond`` under MirroredStrategy.
        """
        new_codebook = tf.where(mask[:, None], values, tf.convert_to_tensor(self.embeddings))
        self.embeddings.assign(new_codebook)
        return new_codebook

    def _initialise_from_batch(self, flat):
        needed = tf.equal(self.initialized.value, 0)

        def from_data():
            if self.init == "random":
                return _random_rows(flat, self.num_embeddings, self._seed(1))
            # distinct rows first, so the slice is a uniform sample without repeats
            sample = _random_rows(flat, _KMEANS_MAX_POINTS, self._seed(2))
            sample = sample[: tf.minimum(tf.shape(flat)[0], _KMEANS_MAX_POINTS)]
            return kmeans_plus_plus(sample, self.num_embeddings, self._seed(3))

        values = _from_first_replica(
            tf.cond(needed, from_data, lambda: tf.convert_to_tensor(self.embeddings))
        )
        self._reset_codes(tf.fill([self.num_embeddings], needed), values)
        self.initialized.assign(1)

    def _track_and_restart(self, flat, counts, codebook):
        used = counts > 0
        steps = tf.where(used, 0, self.steps_since_used.value + 1)
        if self.dead_code_steps:
            dead = steps >= self.dead_code_steps
            any_dead = tf.reduce_any(dead)
            candidates = _from_first_replica(
                tf.cond(
                    any_dead,
                    lambda: _random_rows(flat, self.num_embeddings, self._seed(4)),
                    lambda: codebook,
                )
            )
            self._reset_codes(dead, candidates)
            steps = tf.where(dead, 0, steps)
            self.dead_codes_restarted_total.assign_add(tf.reduce_sum(tf.cast(dead, tf.int32)))
        self.steps_since_used.assign(steps)
        self.training_steps.assign_add(1)

    # -- serialisation --------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim,
                "commitment_cost": self.commitment_cost,
                "init": self.init,
                "dead_code_steps": self.dead_code_steps,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="oasis_helpers")
class VectorQuantizerEMA(VectorQuantizer):
    """Vector quantizer whose codebook follows moving averages of its assigned vectors.

    As :class:`VectorQuantizer` (nearest code, straight-through output, metrics,
    dead-code restart, data initialisation, float32 codebook), except that the
    codebook is not trained by gradients and there is no codebook loss: the only
    loss added is ``commitment_cost * mean((z_e - sg[z_q])^2)``.

    Update, in each training call, with ``N_k`` the number of batch vectors
    assigned to code ``k`` and ``s_k`` their sum (both summed over replicas under
    ``tf.distribute``)::

        ema_cluster_size_k  <- decay * ema_cluster_size_k  + (1 - decay) * N_k
        ema_embedding_sum_k <- decay * ema_embedding_sum_k + (1 - decay) * s_k
        n   = sum_k ema_cluster_size_k
        n_k = (ema_cluster_size_k + epsilon) / (n + K * epsilon) * n   (Laplace smoothing)
        e_k = ema_embedding_sum_k / n_k

    so each used code moves to the running (count-weighted) mean of the vectors
    assigned to it. The statistics start at one pseudo-count per code
    (``ema_cluster_size = 1``, ``ema_embedding_sum = e``), so a new code starts where
    it was put (zero-initialised sums would put it at the origin). Restarted or
    data-initialised codes get the same fresh start. A code that no vector chooses
    for ``t`` steps has count ``decay**t`` and sum ``decay**t * e``, so it sits at
    ``e * decay**t / (decay**t + epsilon)`` (times ``(n + K * epsilon) / n``, about 1):
    in place while its count is large against ``epsilon``, halfway to the origin once
    the count has decayed to ``epsilon`` (``t = log(epsilon) / log(decay)``, 224 steps
    at the defaults), and at the origin soon after. Dead-code restarts
    (``dead_code_steps``) move it long before that.

    Args (beyond :class:`VectorQuantizer`'s):
        decay: ``gamma`` in [0, 1), the EMA decay (paper: 0.99; default 0.95,
            notebook 03's measured setting).
        epsilon: Laplace smoothing constant (>= 0).

    Additional weights: ``ema_cluster_size`` ``[K]`` and ``ema_embedding_sum``
    ``[K, D]``, float32, non-trainable; the codebook itself is non-trainable.
    """

    _codebook_trainable = False

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = DEFAULT_COMMITMENT_COST,
        decay: float = DEFAULT_EMA_DECAY,
        epsilon: float = 1e-5,
        init: str | None = DEFAULT_INIT,
        dead_code_steps: int | None = DEFAULT_DEAD_CODE_STEPS,
        embeddings_initializer: Any = "random_uniform",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(
            num_embeddings,
            embedding_dim,
            commitment_cost=commitment_cost,
            init=init,
            dead_code_steps=dead_code_steps,
            embeddings_initializer=embeddings_initializer,
            seed=seed,
            **kwargs,
        )
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        if float(epsilon) < 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
        self.decay = float(decay)
        self.epsilon = float(epsilon)

    def _build_extra_state(self, initial_codebook):
        self.ema_cluster_size = self._state_weight(
            "ema_cluster_size", (self.num_embeddings,), dtype="float32", initializer="ones"
        )
        self.ema_embedding_sum = self._state_weight(
            "ema_embedding_sum",
            (self.num_embeddings, self.embedding_dim),
            dtype="float32",
            initializer=lambda shape, dtype=None: initial_codebook,
        )

    def _reset_codes(self, mask, values):
        new_codebook = super()._reset_codes(mask, values)
        sizes = tf.where(mask, tf.ones_like(self.ema_cluster_size.value), self.ema_cluster_size)
        self.ema_cluster_size.assign(sizes)
        self.ema_embedding_sum.assign(
            tf.where(mask[:, None], values, tf.convert_to_tensor(self.ema_embedding_sum))
        )
        return new_codebook

    def _update_codebook(self, flat, flat_indices, counts, codebook):
        sums = tf.math.unsorted_segment_sum(flat, flat_indices, self.num_embeddings)  # [K, D]
        sums = _replica_sum(sums)
        sizes = self.decay * self.ema_cluster_size.value + (1.0 - self.decay) * counts
        embedding_sum = (
            self.decay * tf.convert_to_tensor(self.ema_embedding_sum) + (1.0 - self.decay) * sums
        )
        total = tf.reduce_sum(sizes)
        smoothed = (sizes + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        # A code whose smoothed count is 0 (possible only with epsilon = 0) keeps its place.
        new_codebook = tf.where(
            smoothed[:, None] > 0, embedding_sum / tf.maximum(smoothed, 1e-30)[:, None], codebook
        )
        self.ema_cluster_size.assign(sizes)
        self.ema_embedding_sum.assign(embedding_sum)
        self.embeddings.assign(new_codebook)
        return new_codebook

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"decay": self.decay, "epsilon": self.epsilon})
        return config


# ----------------------------------------------------------------------------------------------
# Fitting a bare layer (no encoder, no decoder): notebook 02's patch experiments
# ----------------------------------------------------------------------------------------------
def fit_to_vectors(
    layer: VectorQuantizer,
    vectors: npt.ArrayLike,
    steps: int,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Fit a bare quantizer to fixed vectors ``[M, D]`` (no encoder, no decoder).

    Each step draws ``batch_size`` random vectors, calls the layer with
    ``training=True, return_losses=True`` (data initialisation, restarts and EMA
    updates happen there) and, when the layer has trainable weights (the plain
    layer's codebook), takes an Adam step on the sum of the returned
    :func:`vq_losses`. With fixed inputs the commitment loss has nothing to
    train, so this is online k-means.

    Returns:
        ``history``: lists per step of ``loss``, ``batch_perplexity`` and
        ``batch_codebook_usage`` (of that step's batch) and ``dead_codes_restarted``
        (total so far), plus ``seconds`` (wall-clock time of the loop).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != layer.embedding_dim:
        raise ValueError(f"vectors must have shape [M, {layer.embedding_dim}], got {vectors.shape}")
    if int(steps) < 0 or int(batch_size) < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps!r}, {batch_size!r}")
    if not layer.built:
        layer.build((None, layer.embedding_dim))
    optimizer = keras.optimizers.Adam(learning_rate)
    trainable = list(layer.trainable_weights)
    if trainable:
        optimizer.build(trainable)

    @tf.function
    def train_step(batch):
        for metric in layer.metrics:
            metric.reset_state()
        with tf.GradientTape() as tape:
            _, losses = layer(batch, training=True, return_losses=True)
            loss = tf.add_n(list(losses.values()))
        if trainable:
            gradients = tape.gradient(loss, trainable)
            optimizer.apply_gradients(zip(gradients, trainable, strict=True))
        return (
            loss,
            layer.perplexity_tracker.result(),
            layer.usage_tracker.result(),
            layer.dead_codes_restarted_total.value,
        )

    random_state = np.random.default_rng(seed)
    history = {
        "loss": [],
        "batch_perplexity": [],
        "batch_codebook_usage": [],
        "dead_codes_restarted": [],
    }
    start = time.perf_counter()
    for _ in range(int(steps)):
        batch = vectors[random_state.integers(0, len(vectors), batch_size)]
        values = train_step(tf.constant(batch))
        for key, value in zip(history, values, strict=True):
            history[key].append(float(value))
    history["seconds"] = time.perf_counter() - start
    return history
