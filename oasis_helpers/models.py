"""The VQ-VAE (van den Oord et al. 2017): encoder, vector quantizer, decoder, trainer.

Shapes, for ``B`` images of ``H x W`` pixels, a downsampling factor ``F``
(a power of two) and codes of size ``D`` from a codebook of ``K`` codes::

    images     [B, H, W, 1]      float32 in [0, 1]
    encoder    -> z_e [B, H/F, W/F, D]   strided 4x4 convolutions (each halves the side),
                                           a 3x3 convolution, residual blocks, a 1x1 to D
    quantizer  -> z_q [B, H/F, W/F, D]   nearest of K codes (oasis_helpers.quantizer)
    indices       [B, H/F, W/F]   int32  the discrete code grid (what a prior models)
    decoder    -> x_hat [B, H, W, 1]     mirror of the encoder: a 3x3 convolution,
                                           residual blocks, 4x4 transposed convolutions
                                           that double the side, a sigmoid (float32)

A residual block is ``x + Conv1x1(ReLU(Conv3x3(ReLU(x))))`` (the paper's
"ReLU, 3x3 conv, ReLU, 1x1 conv"), with ``residual_channels`` hidden channels.

The training loss of :class:`VQVAE` is::

    loss = reconstruction_loss + quantizer_loss
    reconstruction_loss = mean((x - x_hat)^2)           (over all pixels of the batch)
    quantizer_loss      = codebook + commitment loss (standard quantizer) or the
                          commitment loss alone (EMA): the sum of the losses that the
                          quantizer layer returns for this very forward pass
                          (``oasis_helpers.quantizer.vq_losses``, computed once)

The default model is :data:`DEFAULT_CONFIG` (the class defaults; ``VQVAE()`` and
``VQVAE(**DEFAULT_CONFIG)`` build it). The discrete codes of a trained model go to
``run_dir/03_train_vqvae/codes.npz`` (:mod:`oasis_helpers.code_grids`).

Encoder and decoder are functional Keras models built from stock layers (no
``Lambda``), and every custom class is registered for serialisation, so a saved
``vqvae.keras`` loads with ``safe_mode=True``. Under a ``mixed_float16`` policy the
convolutions run in float16 while the quantizer and the final sigmoid stay in
float32.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf
from keras import layers, ops

from oasis_helpers import quantizer as quantizer_module
from oasis_helpers import runs

__all__ = [
    "DEFAULT_CONFIG",
    "QUANTIZERS",
    "VQVAE",
    "bits_per_slice",
    "build_decoder",
    "build_encoder",
    "build_quantizer",
    "check_downsample",
    "layer_shape_table",
    "load_vqvae",
    "make_vqvae",
]

#: Accepted values of the ``quantizer`` argument.
QUANTIZERS = ("ema", "standard")

#: Slices per batch of encode/decode/reconstruct/save_codes: large enough to keep the
#: CPU busy, small enough that notebook 03 on the full OASIS PNG layout stays below 4 GiB
#: (``benchmarks/memory.py``, ``benchmarks/results/memory_full_layout.json``:
#: ``notebooks.03_train_vqvae.peak_mib`` and ``.below_limit``).
INFERENCE_BATCH_SIZE = 32

#: The series' default VQ-VAE, the one place its settings live: the defaults of
#: :class:`VQVAE`, of notebook 03's parameters and of ``benchmarks/reconstruction.py``.
#: Measured on the demo cohort against the keras.io example's networks by
#: ``benchmarks/reconstruction.py`` (``benchmarks/results/reconstruction_demo.json``:
#: ``models.series_default.summary`` against ``models.keras_io_example.summary``).
#: The quantizer settings are the quantizer layers' own defaults.
DEFAULT_CONFIG: dict[str, Any] = {
    "image_size": 256,  # side S of the square slices
    "downsample": 4,  # F: a 64x64 code grid
    "channels": (16, 32),  # widths of the stride-2 stages
    "num_residual_blocks": 2,
    "residual_channels": 16,
    "num_embeddings": 256,  # K
    "embedding_dim": 16,  # D
    "commitment_cost": quantizer_module.DEFAULT_COMMITMENT_COST,  # beta, 0.25
    "quantizer": "ema",
    "ema_decay": quantizer_module.DEFAULT_EMA_DECAY,  # 0.95
    "dead_code_steps": quantizer_module.DEFAULT_DEAD_CODE_STEPS,  # 20
}


def check_downsample(downsample: int, image_size: int | None = None) -> int:
    """``downsample`` (``F``) as an ``int``: a power of two >= 2 that divides ``image_size``.

    Each stride-2 stage halves the side, so ``F`` must be a power of two, and a side ``S``
    must be a multiple of ``F`` for the decoder to rebuild it (``image_size=None``: any
    side, checked on the images). :mod:`oasis_helpers.parameters` checks notebook 03's
    ``downsample`` with this rule.

    Raises:
        ValueError: naming the value and the rule it breaks.
    """
    downsample = int(downsample)
    if downsample < 2 or downsample & (downsample - 1):
        raise ValueError(
            f"downsample must be a power of two >= 2 (2, 4, 8, ...), got {downsample!r}"
        )
    if image_size is not None and (int(image_size) < downsample or int(image_size) % downsample):
        raise ValueError(f"image_size {image_size} is not a multiple of downsample {downsample}")
    return downsample


def _stage_widths(channels, downsample: int) -> list[int]:
    """One width per stride-2 stage, first to last.

    A shorter list is padded with its last width; a longer one keeps its last
    ``log2(downsample)`` entries (the widths nearest the code grid), so one
    ``channels`` setting works for every ``downsample``.
    """
    stages = int(math.log2(downsample))
    widths = [int(channels)] if isinstance(channels, (int, np.integer)) else list(channels)
    if not widths or any(int(width) < 1 for width in widths):
        raise ValueError(f"channels must be positive integers, got {channels!r}")
    widths = [int(width) for width in widths][-stages:]
    return widths + [widths[-1]] * (stages - len(widths))


def _residual_block(inputs, hidden: int, name: str):
    """``x + Conv1x1(ReLU(Conv3x3(ReLU(x))))``: shape-preserving ``[B, h, w, C]``."""
    width = int(inputs.shape[-1])
    x = layers.ReLU(name=f"{name}_relu_1")(inputs)
    x = layers.Conv2D(hidden, 3, padding="same", name=f"{name}_conv3x3")(x)
    x = layers.ReLU(name=f"{name}_relu_2")(x)
    x = layers.Conv2D(width, 1, name=f"{name}_conv1x1")(x)
    return layers.Add(name=f"{name}_add")([inputs, x])


def build_encoder(
    image_size: int | None = DEFAULT_CONFIG["image_size"],
    downsample: int = DEFAULT_CONFIG["downsample"],
    channels=DEFAULT_CONFIG["channels"],
    embedding_dim: int = DEFAULT_CONFIG["embedding_dim"],
    num_residual_blocks: int = DEFAULT_CONFIG["num_residual_blocks"],
    residual_channels: int = DEFAULT_CONFIG["residual_channels"],
    name: str = "encoder",
) -> keras.Model:
    """The encoder: ``[B, H, W, 1] -> [B, H/F, W/F, D]`` (``F = downsample``).

    ``log2(F)`` convolutions with 4x4 kernels and stride 2 (widths ``channels``,
    ReLU after each), then a 3x3 convolution at the code resolution, the residual
    blocks, a ReLU and a 1x1 convolution to ``embedding_dim`` (no activation: the
    quantizer compares raw vectors with its codes).

    A narrow first stage (e.g. 16 channels) keeps the full-resolution work small
    on a CPU; most of the computation happens at the code resolution.

    Args:
        image_size: side ``S`` of the square input (a multiple of ``downsample``), or
            ``None`` for a fully convolutional model that takes any ``H, W`` that are
            multiples of ``F`` (what :class:`VQVAE` uses: it trains on crops).
        downsample: ``F``, a power of two (4: a 64x64 code grid at 256x256).
        channels: width of each stride-2 stage, first to last (an int: all stages;
            a shorter list is padded with its last width, a longer one keeps its
            last entries). The last width is also the width of the residual blocks.
        embedding_dim: ``D``, the size of each code vector.
        num_residual_blocks: residual blocks at the code resolution.
        residual_channels: hidden width of each residual block.
    """
    downsample = check_downsample(downsample, image_size)
    widths = _stage_widths(channels, downsample)
    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = inputs
    for stage, width in enumerate(widths):
        x = layers.Conv2D(
            width, 4, strides=2, padding="same", activation="relu", name=f"down_{stage + 1}"
        )(x)
    x = layers.Conv2D(widths[-1], 3, padding="same", name="code_conv")(x)
    for block in range(int(num_residual_blocks)):
        x = _residual_block(x, int(residual_channels), name=f"residual_{block + 1}")
    x = layers.ReLU(name="final_relu")(x)
    outputs = layers.Conv2D(int(embedding_dim), 1, name="to_embedding")(x)
    return keras.Model(inputs, outputs, name=name)


def build_decoder(
    image_size: int | None = DEFAULT_CONFIG["image_size"],
    downsample: int = DEFAULT_CONFIG["downsample"],
    channels=DEFAULT_CONFIG["channels"],
    embedding_dim: int = DEFAULT_CONFIG["embedding_dim"],
    num_residual_blocks: int = DEFAULT_CONFIG["num_residual_blocks"],
    residual_channels: int = DEFAULT_CONFIG["residual_channels"],
    name: str = "decoder",
) -> keras.Model:
    """The decoder, the encoder's mirror: ``[B, H/F, W/F, D] -> [B, H, W, 1]`` in ``[0, 1]``.

    A 3x3 convolution to the last stage width, the residual blocks, a ReLU, then
    one 4x4 transposed convolution with stride 2 per stage (widths in reverse
    order, ReLU after each) of which the last outputs one channel, and a sigmoid.
    The sigmoid is computed in float32 also under mixed precision, so the output
    is float32 in ``[0, 1]``.

    Arguments as :func:`build_encoder`.
    """
    downsample = check_downsample(downsample, image_size)
    widths = _stage_widths(channels, downsample)
    code_size = None if image_size is None else int(image_size) // downsample
    inputs = keras.Input((code_size, code_size, int(embedding_dim)), name="quantized")
    x = layers.Conv2D(widths[-1], 3, padding="same", name="from_embedding")(inputs)
    for block in range(int(num_residual_blocks)):
        x = _residual_block(x, int(residual_channels), name=f"residual_{block + 1}")
    x = layers.ReLU(name="final_relu")(x)
    # stage widths mirrored: the stage that produced width w in the encoder
    # now maps back to the width that preceded it (1 channel for the image).
    targets = list(reversed(widths[:-1])) + [1]
    for stage, width in enumerate(targets):
        last = stage == len(targets) - 1
        x = layers.Conv2DTranspose(
            width,
            4,
            strides=2,
            padding="same",
            activation=None if last else "relu",
            name=f"up_{stage + 1}",
        )(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    return keras.Model(inputs, outputs, name=name)


def build_quantizer(
    variant: str,
    num_embeddings: int,
    embedding_dim: int,
    commitment_cost: float = DEFAULT_CONFIG["commitment_cost"],
    ema_decay: float = DEFAULT_CONFIG["ema_decay"],
    dead_code_steps: int | None = DEFAULT_CONFIG["dead_code_steps"],
    **options,
):
    """A :mod:`oasis_helpers.quantizer` layer: ``"ema"`` or ``"standard"``.

    ``ema_decay`` is the EMA layer's ``decay`` (ignored by the standard layer);
    ``options`` go to the layer (``init``, ``seed``, ``epsilon``, ``embeddings_initializer``).
    """
    if variant == "ema":
        cls = quantizer_module.VectorQuantizerEMA
        options["decay"] = ema_decay
    elif variant == "standard":
        cls = quantizer_module.VectorQuantizer
        options.pop("epsilon", None)
    else:
        raise ValueError(f"quantizer must be one of {QUANTIZERS}, got {variant!r}")
    return cls(
        num_embeddings=num_embeddings,
        embedding_dim=embedding_dim,
        commitment_cost=commitment_cost,
        dead_code_steps=dead_code_steps,
        name="vector_quantizer",
        **options,
    )


def bits_per_slice(image_size: int, downsample: int, num_embeddings: int) -> float:
    """Bits to store one slice as codes: ``(S/F)^2 * log2(K)`` (8-bit pixels: ``S^2 * 8``)."""
    code_size = int(image_size) // check_downsample(downsample)
    return float(code_size * code_size * math.log2(int(num_embeddings)))


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
        self.channels = tuple(_stage_widths(channels, self.downsample))
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
