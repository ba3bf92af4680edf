"""The VQ-VAE's parts and their settings: :data:`DEFAULT_CONFIG`, encoder, decoder, quantizer.

:func:`build_encoder` and :func:`build_decoder` build the fully convolutional networks
(strided 4x4 convolutions, residual blocks of :func:`residual_block`, one width per stage
from :func:`stage_widths`); :func:`build_quantizer` the quantizer layer
(:data:`QUANTIZERS`). :func:`check_downsample` is the rule on ``F`` and
:func:`bits_per_slice` the size of a slice's code grid. :data:`DEFAULT_CONFIG` is the
series' default model, whose quantizer settings are the quantizer layers' own defaults.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers

from oasis_helpers import quantizer as quantizer_module

__all__ = [
    "DEFAULT_CONFIG",
    "QUANTIZERS",
    "bits_per_slice",
    "build_decoder",
    "build_encoder",
    "build_quantizer",
    "check_downsample",
    "residual_block",
    "stage_widths",
]


#: Accepted values of the ``quantizer`` argument.
QUANTIZERS = ("ema", "standard")

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


def stage_widths(channels, downsample: int) -> list[int]:
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


def residual_block(inputs, hidden: int, name: str):
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
    widths = stage_widths(channels, downsample)
    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = inputs
    for stage, width in enumerate(widths):
        x = layers.Conv2D(
            width, 4, strides=2, padding="same", activation="relu", name=f"down_{stage + 1}"
        )(x)
    x = layers.Conv2D(widths[-1], 3, padding="same", name="code_conv")(x)
    for block in range(int(num_residual_blocks)):
        x = residual_block(x, int(residual_channels), name=f"residual_{block + 1}")
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
    widths = stage_widths(channels, downsample)
    code_size = None if image_size is None else int(image_size) // downsample
    inputs = keras.Input((code_size, code_size, int(embedding_dim)), name="quantized")
    x = layers.Conv2D(widths[-1], 3, padding="same", name="from_embedding")(inputs)
    for block in range(int(num_residual_blocks)):
        x = residual_block(x, int(residual_channels), name=f"residual_{block + 1}")
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
