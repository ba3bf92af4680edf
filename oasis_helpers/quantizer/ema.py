"""The vector-quantizer layer whose codebook follows moving averages (:class:`VectorQuantizerEMA`).

As Sonnet's ``VectorQuantizerEMA``: each code moves to the exponential moving average of
the encoder outputs assigned to it, with Laplace-smoothed counts; no codebook loss, only
the commitment loss. Everything else is :class:`~oasis_helpers.quantizer.layer.VectorQuantizer`'s.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from oasis_helpers.quantizer.layer import (
    DEFAULT_COMMITMENT_COST,
    DEFAULT_DEAD_CODE_STEPS,
    DEFAULT_EMA_DECAY,
    DEFAULT_INIT,
    VectorQuantizer,
)
from oasis_helpers.quantizer.replicas import replica_sum

__all__ = [
    "VectorQuantizerEMA",
]


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
        sums = replica_sum(sums)
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
