"""The vector-quantizer layer with a codebook learnt by gradient descent, and its defaults.

:class:`VectorQuantizer`: nearest code, straight-through output, the losses of
:mod:`~oasis_helpers.quantizer.losses`, batch perplexity and usage metrics, dead-code
restarts and data initialisation. The defaults (``DEFAULT_*``, :data:`INIT_METHODS`) are the
ones :mod:`oasis_helpers.quantizer` explains and :data:`oasis_helpers.models.DEFAULT_CONFIG`
uses. :class:`~oasis_helpers.quantizer.ema.VectorQuantizerEMA` extends it.
"""

from __future__ import annotations

import random
from typing import Any

import keras
import numpy.typing as npt
import tensorflow as tf
from keras import ops

from oasis_helpers.quantizer.distances import squared_distances
from oasis_helpers.quantizer.losses import vq_losses
from oasis_helpers.quantizer.replicas import from_first_replica, replica_sum
from oasis_helpers.quantizer.seeding import KMEANS_MAX_POINTS, kmeans_plus_plus, random_rows
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
    "VectorQuantizer",
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
        counts = replica_sum(code_counts(flat_indices, self.num_embeddings))  # [K], global

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
                return random_rows(flat, self.num_embeddings, self._seed(1))
            # distinct rows first, so the slice is a uniform sample without repeats
            sample = random_rows(flat, KMEANS_MAX_POINTS, self._seed(2))
            sample = sample[: tf.minimum(tf.shape(flat)[0], KMEANS_MAX_POINTS)]
            return kmeans_plus_plus(sample, self.num_embeddings, self._seed(3))

        values = from_first_replica(
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
            candidates = from_first_replica(
                tf.cond(
                    any_dead,
                    lambda: random_rows(flat, self.num_embeddings, self._seed(4)),
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
