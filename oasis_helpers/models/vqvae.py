"""The VQ-VAE model (:class:`VQVAE`), its training step, building, saving and layer table.

:class:`VQVAE` chains the networks of :mod:`~oasis_helpers.models.architecture` with its own
``train_step``/``test_step`` (one forward pass gives the reconstruction and the quantizer's
losses) and batched encode/decode/reconstruct; :func:`make_vqvae` builds and compiles it
under a strategy, :func:`load_vqvae` loads :data:`VQVAE_FILE`, and
:func:`layer_shape_table` lists its layers with their shapes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf
from keras import ops

from oasis_helpers import runs
from oasis_helpers.models.architecture import (
    DEFAULT_CONFIG,
    QUANTIZERS,
    bits_per_slice,
    build_decoder,
    build_encoder,
    build_quantizer,
    check_downsample,
    stage_widths,
)

__all__ = [
    "INFERENCE_BATCH_SIZE",
    "VQVAE",
    "VQVAE_FILE",
    "layer_shape_table",
    "load_vqvae",
    "make_vqvae",
]


#: Slices per batch of encode/decode/reconstruct/save_codes: large enough to keep the
#: CPU busy, small enough that notebook 03 on the full OASIS PNG layout stays below 4 GiB
#: (``benchmarks/memory.py``, ``benchmarks/results/memory_full_layout.json``:
#: ``notebooks.03_train_vqvae.peak_mib`` and ``.below_limit``).
INFERENCE_BATCH_SIZE = 32


@keras.saving.register_keras_serializable(package="oasis_helpers")
class VQVAE(keras.Model):
    """Encoder -> vector quantizer -> decoder, with its own ``train_step``/``test_step``.

    ``model(images)`` returns reconstructions ``[B, S, S, 1]`` (float32 in ``[0, 1]``).
    ``fit``/``evaluate`` report ``loss`` (total), ``reconstruction_loss``,
    ``quantizer_loss``, ``batch_perplexity`` and ``batch_codebook_usage`` (the last
    two from the quantizer: means over the epoch of per-batch values, not the
    perplexity of a whole set, for which see :func:`oasis_helpers.metrics.perplexity`).
    Data may be images or tuples whose first element is the images (e.g. ``(images, masks)``).

    How the losses reach the optimiser: ``train_step`` calls the quantizer with
    ``return_losses=True``, which returns the codebook and commitment losses of that
    very forward pass (:func:`oasis_helpers.quantizer.vq_losses`); their sum is
    ``quantizer_loss``, added to ``reconstruction_loss`` and differentiated. Nothing
    goes through ``add_loss`` in training (its per-layer list is shared by the
    replicas of a ``MirroredStrategy``).

    The defaults are :data:`DEFAULT_CONFIG`. Compile with an optimizer only:
    ``model.compile(optimizer=keras.optimizers.Adam(1e-3))``, or use :func:`make_vqvae`.

    Args:
        image_size: side ``S`` of the square images.
        downsample: ``F``, a power of two; the code grid is ``S/F x S/F``.
        channels: widths of the stride-2 stages (see :func:`build_encoder`).
        num_residual_blocks, residual_channels: residual blocks at the code resolution.
        num_embeddings: ``K``, codebook size.
        embedding_dim: ``D``, code vector size.
        commitment_cost: ``beta`` of the commitment loss.
        quantizer: ``"ema"`` (codebook from moving averages) or ``"standard"``.
        ema_decay: ``gamma`` of the EMA quantizer (unused by ``"standard"``).
        dead_code_steps: restart a code unused for this many training steps
            (``None`` or 0: never).
        quantizer_options: further arguments of the quantizer layer (``init``,
            ``seed``, ``epsilon``, ``embeddings_initializer``); the settings above
            have their own arguments and are refused here.
    """

    def __init__(
        self,
        image_size: int = DEFAULT_CONFIG["image_size"],
        downsample: int = DEFAULT_CONFIG["downsample"],
        channels=DEFAULT_CONFIG["channels"],
        num_residual_blocks: int = DEFAULT_CONFIG["num_residual_blocks"],
        residual_channels: int = DEFAULT_CONFIG["residual_channels"],
        num_embeddings: int = DEFAULT_CONFIG["num_embeddings"],
        embedding_dim: int = DEFAULT_CONFIG["embedding_dim"],
        commitment_cost: float = DEFAULT_CONFIG["commitment_cost"],
        quantizer: str = DEFAULT_CONFIG["quantizer"],
        ema_decay: float = DEFAULT_CONFIG["ema_decay"],
        dead_code_steps: int | None = DEFAULT_CONFIG["dead_code_steps"],
        quantizer_options: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.downsample = check_downsample(downsample)
        self.channels = tuple(stage_widths(channels, self.downsample))
        self.num_residual_blocks = int(num_residual_blocks)
        self.residual_channels = int(residual_channels)
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.commitment_cost = float(commitment_cost)
        if quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")
        self.quantizer_variant = quantizer
        self.ema_decay = float(ema_decay)
        self.dead_code_steps = None if not dead_code_steps else int(dead_code_steps)
        self.quantizer_options = dict(quantizer_options or {})
        for name, argument in _OWN_ARGUMENTS.items():
            if name in self.quantizer_options:
                raise ValueError(
                    f"quantizer_options[{name!r}] is a VQVAE argument of its own: pass "
                    f"{argument}={self.quantizer_options[name]!r} instead"
                )
        self.code_size = self.image_size // self.downsample

        self.encoder, self.decoder = self._build_networks()
        self.quantizer = build_quantizer(
            quantizer,
            self.num_embeddings,
            self.embedding_dim,
            self.commitment_cost,
            ema_decay=self.ema_decay,
            dead_code_steps=self.dead_code_steps,
            **self.quantizer_options,
        )
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.quantizer_loss_tracker = keras.metrics.Mean(name="quantizer_loss")
        self.build((None, self.image_size, self.image_size, 1))

    def _build_networks(self) -> tuple[keras.Model, keras.Model]:
        """``(encoder, decoder)`` of this configuration; a subclass may swap them
        (``benchmarks/reconstruction.py`` plugs in the keras.io example's networks).

        Both are fully convolutional (any ``H, W`` that are multiples of ``F``), so
        training may use crops while evaluation uses whole slices.
        """
        shared = {
            "image_size": None,
            "downsample": self.downsample,
            "channels": self.channels,
            "embedding_dim": self.embedding_dim,
            "num_residual_blocks": self.num_residual_blocks,
            "residual_channels": self.residual_channels,
        }
        return build_encoder(**shared), build_decoder(**shared)

    def build(self, input_shape=None):
        if not self.quantizer.built:
            self.quantizer.build((None, self.code_size, self.code_size, self.embedding_dim))
        self.built = True

    # -- forward ----------------------------------------------------------------------------------
    def call(self, images, training=False):
        """Reconstructions ``[B, S, S, 1]`` of ``images`` ``[B, S, S, 1]`` (float32)."""
        z_e = self.encoder(images, training=training)
        z_q = self.quantizer(z_e, training=training)
        return self.decoder(z_q, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.quantizer_loss_tracker,
            self.quantizer.perplexity_tracker,
            self.quantizer.usage_tracker,
        ]

    # -- training ---------------------------------------------------------------------------------
    @staticmethod
    def _images_of(data):
        while isinstance(data, (tuple, list)):
            data = data[0]
        return data

    def compute_losses(self, images, training: bool):
        """``(reconstruction_loss, quantizer_loss)``, float32 scalars, for one (replica) batch.

        One forward pass. The quantizer is called with ``return_losses=True``: it
        returns its codebook and commitment losses computed from the very ``z_e``
        and ``e_k`` of this pass (:func:`oasis_helpers.quantizer.vq_losses`), and
        ``quantizer_loss`` is their sum. Nothing is read from ``self.quantizer.losses``:
        ``add_loss`` keeps one Python list per layer, which the replicas of a
        ``MirroredStrategy`` share, so each replica would also count the others' losses.
        """
        z_e = self.encoder(images, training=training)
        z_q, quantizer_losses = self.quantizer(z_e, training=training, return_losses=True)
        reconstructions = self.decoder(z_q, training=training)
        images32 = ops.cast(images, "float32")
        reconstruction_loss = ops.mean(ops.square(images32 - ops.cast(reconstructions, "float32")))
        quantizer_loss = sum(quantizer_losses.values())
        return reconstruction_loss, quantizer_loss

    def _update_trackers(self, reconstruction_loss, quantizer_loss, batch_size):
        total = reconstruction_loss + quantizer_loss
        self.total_loss_tracker.update_state(total, sample_weight=batch_size)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss, sample_weight=batch_size)
        self.quantizer_loss_tracker.update_state(quantizer_loss, sample_weight=batch_size)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        images = self._images_of(data)
        batch_size = ops.cast(ops.shape(images)[0], "float32")
        with tf.GradientTape() as tape:
            reconstruction_loss, quantizer_loss = self.compute_losses(images, training=True)
            loss = reconstruction_loss + quantizer_loss
            # Every replica sees 1/R of the global batch and the gradients are summed
            # over replicas: divide by R so the update equals the one-device update.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = loss / float(replicas) if replicas > 1 else loss
            scaled = self.optimizer.scale_loss(scaled)  # loss scaling under mixed_float16
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return self._update_trackers(reconstruction_loss, quantizer_loss, batch_size)

    def test_step(self, data):
        images = self._images_of(data)
        batch_size = ops.cast(ops.shape(images)[0], "float32")
        reconstruction_loss, quantizer_loss = self.compute_losses(images, training=False)
        return self._update_trackers(reconstruction_loss, quantizer_loss, batch_size)

    # -- the discrete codes -----------------------------------------------------------------------
    def _batched(self, function, inputs, batch_size: int):
        """Apply a compiled ``function`` to ``inputs`` in batches; NumPy result."""
        if self.run_eagerly:  # compile(run_eagerly=True): debugging, tiny test models
            compiled = function
        else:
            if not hasattr(self, "_compiled_functions"):
                self._compiled_functions = {}
            key = function.__name__
            if key not in self._compiled_functions:
                self._compiled_functions[key] = tf.function(function, reduce_retracing=True)
            compiled = self._compiled_functions[key]
        if isinstance(inputs, tf.Tensor) and int(inputs.shape[0] or 0) <= batch_size:
            return np.asarray(compiled(inputs))
        inputs = np.asarray(inputs)
        if len(inputs) == 0:
            raise ValueError("got an empty batch of inputs")
        outputs = [
            np.asarray(compiled(tf.convert_to_tensor(inputs[start : start + batch_size])))
            for start in range(0, len(inputs), batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    def _check_images(self, images):
        shape = tuple(images.shape)
        if (
            len(shape) != 4
            or shape[-1] != 1
            or any(size is None or size % self.downsample for size in shape[1:3])
        ):
            raise ValueError(
                f"expected images of shape [B, H, W, 1] with H and W multiples of "
                f"downsample={self.downsample} (e.g. [B, {self.image_size}, "
                f"{self.image_size}, 1]), got {shape}"
            )

    def _encode_batch(self, images):
        z_e = self.encoder(tf.cast(images, self.compute_dtype), training=False)
        return self.quantizer.code_indices(z_e)

    def _decode_batch(self, indices):
        z_q = self.quantizer.lookup(indices)
        return self.decoder(tf.cast(z_q, self.compute_dtype), training=False)

    def _reconstruct_batch(self, images):
        return self(tf.cast(images, self.compute_dtype), training=False)

    def encode(
        self, images: npt.ArrayLike, batch_size: int = INFERENCE_BATCH_SIZE
    ) -> npt.NDArray[np.int32]:
        """Code indices of ``images`` ``[B, H, W, 1]``: int32 ``[B, H/F, W/F]``."""
        self._check_images(images)
        return self._batched(self._encode_batch, images, batch_size).astype(np.int32)

    def decode(
        self, indices: npt.ArrayLike, batch_size: int = INFERENCE_BATCH_SIZE
    ) -> npt.NDArray[np.float32]:
        """Images ``[B, hF, wF, 1]`` (float32 in [0, 1]) from code indices ``[B, h, w]``."""
        shape = tuple(indices.shape)
        if len(shape) != 3:
            raise ValueError(
                f"expected code indices of shape [B, h, w] (e.g. [B, {self.code_size}, "
                f"{self.code_size}]), got {shape}"
            )
        indices = np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            raise ValueError(
                f"code indices must lie in [0, {self.num_embeddings - 1}], got values in "
                f"[{indices.min()}, {indices.max()}]"
            )
        return self._batched(self._decode_batch, indices.astype(np.int32), batch_size)

    def reconstruct(
        self, images: npt.ArrayLike, batch_size: int = INFERENCE_BATCH_SIZE
    ) -> npt.NDArray[np.float32]:
        """Reconstructions ``[B, H, W, 1]`` (float32 in [0, 1]) of ``images`` ``[B, H, W, 1]``."""
        self._check_images(images)
        return self._batched(self._reconstruct_batch, images, batch_size).astype(np.float32)

    @property
    def bits_per_slice(self) -> float:
        """``(S/F)^2 * log2(K)``: the bits of one slice's code grid."""
        return bits_per_slice(self.image_size, self.downsample, self.num_embeddings)

    # -- serialisation ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "downsample": self.downsample,
                "channels": list(self.channels),
                "num_residual_blocks": self.num_residual_blocks,
                "residual_channels": self.residual_channels,
                "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim,
                "commitment_cost": self.commitment_cost,
                "quantizer": self.quantizer_variant,
                "ema_decay": self.ema_decay,
                "dead_code_steps": self.dead_code_steps,
                "quantizer_options": dict(self.quantizer_options),
            }
        )
        return config


#: quantizer_options keys that are VQVAE arguments of their own (key -> argument).
_OWN_ARGUMENTS = {
    "decay": "ema_decay",
    "ema_decay": "ema_decay",
    "dead_code_steps": "dead_code_steps",
    "commitment_cost": "commitment_cost",
    "num_embeddings": "num_embeddings",
    "embedding_dim": "embedding_dim",
}


def make_vqvae(
    strategy=None,
    learning_rate: float = 1e-3,
    jit_compile: bool | str = False,
    run_eagerly: bool = False,
    **config,
) -> VQVAE:
    """Build and compile a :class:`VQVAE` under ``strategy.scope()``.

    ``strategy`` comes from :func:`oasis_helpers.runs.select_strategy` (which also
    sets the precision policy); ``None`` uses the current (default) strategy.
    ``config`` goes to ``VQVAE`` (missing settings: :data:`DEFAULT_CONFIG`). Compiled
    with Adam (``learning_rate``); under ``mixed_float16`` Keras wraps it in a
    ``LossScaleOptimizer``. ``run_eagerly`` skips graph tracing (slow steps, but no
    start-up cost: for tiny test models).
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = VQVAE(**config)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
        )
    return model


#: The file notebook 03 saves its VQ-VAE to, under ``run_dir/03_train_vqvae/``.
VQVAE_FILE = "vqvae.keras"


def load_vqvae(path, compile: bool = True) -> VQVAE:
    """Load a saved ``vqvae.keras`` with ``safe_mode=True`` (no Python code is unpickled).

    Importing this module registers the custom classes (``VQVAE`` and the
    quantizer layers) that ``keras.saving.load_model`` needs; this function is
    that import plus the call. Raises ``FileNotFoundError`` for a missing file.
    """
    return runs.load_saved_model(path, VQVAE, "03_train_vqvae", compile=compile)


def layer_shape_table(model: VQVAE) -> list[dict[str, Any]]:
    """One row per layer of the encoder, the quantizer and the decoder.

    Each row: ``part``, ``layer``, ``kind``, ``output_shape`` at ``model.image_size``
    (without the batch axis), ``parameters``. Used by notebook 03's architecture table.
    """
    # the model's networks are fully convolutional (spatial size None): fixed-size
    # copies of the same configuration give the shapes at image_size (same parameters)
    shared = {
        "image_size": model.image_size,
        "downsample": model.downsample,
        "channels": model.channels,
        "embedding_dim": model.embedding_dim,
        "num_residual_blocks": model.num_residual_blocks,
        "residual_channels": model.residual_channels,
    }
    rows = []
    for part, network in (
        ("encoder", build_encoder(**shared)),
        ("decoder", build_decoder(**shared)),
    ):
        for layer in network.layers:
            shape = tuple(layer.output.shape[1:])
            rows.append(
                {
                    "part": part,
                    "layer": layer.name,
                    "kind": type(layer).__name__,
                    "output_shape": shape,
                    "parameters": int(layer.count_params()) if layer.built else 0,
                }
            )
        if part == "encoder":
            rows.append(
                {
                    "part": "quantizer",
                    "layer": model.quantizer.name,
                    "kind": type(model.quantizer).__name__,
                    "output_shape": (model.code_size, model.code_size, model.embedding_dim),
                    # the codebook (K x D) plus the layer's state (EMA statistics, counters)
                    "parameters": int(model.quantizer.count_params()),
                }
            )
    return rows
