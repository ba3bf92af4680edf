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

Modules, one idea each:

* :mod:`~oasis_helpers.models.architecture`: the parts and their settings:
  :data:`DEFAULT_CONFIG`, :func:`build_encoder`, :func:`build_decoder` (with
  :func:`residual_block` and :func:`stage_widths`), :func:`build_quantizer`,
  :func:`check_downsample`, :func:`bits_per_slice`;
* :mod:`~oasis_helpers.models.vqvae`: the model: :class:`VQVAE` (training step, encode,
  decode, reconstruct), :func:`make_vqvae`, :func:`load_vqvae` (:data:`VQVAE_FILE`),
  :func:`layer_shape_table`.
"""

from oasis_helpers.models.architecture import (
    DEFAULT_CONFIG,
    QUANTIZERS,
    bits_per_slice,
    build_decoder,
    build_encoder,
    build_quantizer,
    check_downsample,
    residual_block,
    stage_widths,
)
from oasis_helpers.models.vqvae import (
    INFERENCE_BATCH_SIZE,
    VQVAE,
    VQVAE_FILE,
    layer_shape_table,
    load_vqvae,
    make_vqvae,
)

__all__ = [
    "DEFAULT_CONFIG",
    "INFERENCE_BATCH_SIZE",
    "QUANTIZERS",
    "VQVAE",
    "VQVAE_FILE",
    "bits_per_slice",
    "build_decoder",
    "build_encoder",
    "build_quantizer",
    "check_downsample",
    "layer_shape_table",
    "load_vqvae",
    "make_vqvae",
    "residual_block",
    "stage_widths",
]
