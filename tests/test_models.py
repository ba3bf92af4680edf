"""The VQ-VAE: shapes, codes, save/load, the training metrics, mixed precision.

Tiny models on 32x32 images; most training runs eagerly (no graph tracing) to stay fast.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from oasis_helpers import models, quantizer, training

TINY = {
    "image_size": 32,
    "channels": (8, 16),
    "num_residual_blocks": 1,
    "residual_channels": 8,
    "num_embeddings": 16,
    "embedding_dim": 4,
}
METRIC_NAMES = {"loss", "reconstruction_loss", "quantizer_loss", "perplexity", "codebook_usage"}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:32, :32]
    disk = ((rows - 16) ** 2 + (cols - 16) ** 2 < 100).astype(np.float32)
    return (disk * rng.uniform(0.3, 0.9, (16, 32, 32)))[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def trained(images):
    """A tiny EMA model after two epochs of (eager) training, and its history."""
    keras.utils.set_random_seed(0)
    model = training.make_vqvae(learning_rate=3e-3, run_eagerly=True, **TINY)
    history = model.fit(images, batch_size=8, epochs=2, verbose=0)
    return model, history.history


@pytest.mark.parametrize("downsample, grid", [(2, 16), (4, 8), (8, 4)])
def test_encoder_and_decoder_shapes(downsample, grid):
    encoder = models.build_encoder(32, downsample, channels=(4, 8), embedding_dim=3)
    decoder = models.build_decoder(32, downsample, channels=(4, 8), embedding_dim=3)
    assert encoder.output.shape[1:] == (grid, grid, 3)
    assert decoder.input.shape[1:] == (grid, grid, 3)
    assert decoder.output.shape[1:] == (32, 32, 1)
    # stride-2 stages: log2(downsample) strided convolutions, mirrored by transposed ones
    strided = [layer for layer in encoder.layers if getattr(layer, "strides", (1, 1)) == (2, 2)]
    transposed = [layer for layer in decoder.layers if "Transpose" in type(layer).__name__]
    assert len(strided) == len(transposed) == int(np.log2(downsample))
    # one channels setting serves every downsample: padded or cut to the stages
    assert strided[-1].filters == 8 and strided[0].filters == (8 if downsample == 2 else 4)


def test_invalid_configurations_raise_clear_errors():
    with pytest.raises(ValueError, match="power of two"):
        models.build_encoder(32, downsample=3)
    with pytest.raises(ValueError, match="multiple of downsample"):
        models.build_encoder(36, downsample=8)
    with pytest.raises(ValueError, match="positive integers"):
        models.build_encoder(32, downsample=4, channels=(4, 0))
    with pytest.raises(ValueError, match="quantizer must be one of"):
        models.VQVAE(**TINY, quantizer="kmeans")


def test_quantizer_variant_is_chosen(images):
    ema = models.VQVAE(**TINY, quantizer="ema")
    standard = models.VQVAE(**TINY, quantizer="standard", commitment_cost=0.5)
    assert isinstance(ema.quantizer, quantizer.VectorQuantizerEMA)
    assert type(standard.quantizer) is quantizer.VectorQuantizer
    assert standard.quantizer.commitment_cost == 0.5
    # the standard codebook is trained by gradients, the EMA codebook is not
    assert any("embeddings" in v.path for v in standard.trainable_variables)
    assert not any("embeddings" in v.path for v in ema.trainable_variables)


def test_call_encode_decode_reconstruct(trained, images):
    model, _ = trained
    reconstructions = model.reconstruct(images)
    assert reconstructions.shape == images.shape and reconstructions.dtype == np.float32
    assert reconstructions.min() >= 0.0 and reconstructions.max() <= 1.0
    codes = model.encode(images)
    assert codes.shape == (16, 8, 8) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < TINY["num_embeddings"]
    # decoding the codes is the same computation as reconstructing the images
    np.testing.assert_allclose(model.decode(codes), reconstructions, atol=1e-5)
    # batching does not change the results
    np.testing.assert_array_equal(model.encode(images, batch_size=3), codes)
    np.testing.assert_allclose(np.asarray(model(images)), reconstructions, atol=1e-5)


def test_code_shape_errors(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="multiples of downsample=4"):
        model.encode(np.zeros((2, 18, 18, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[B, H, W, 1\]"):
        model.reconstruct(np.zeros((2, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"\[B, h, w\]"):
        model.decode(np.zeros((2, 8), np.int32))
    with pytest.raises(ValueError, match=r"lie in \[0, 15\]"):
        model.decode(np.full((1, 8, 8), 16, np.int32))


def test_the_model_is_fully_convolutional(trained, images):
    """Crops (any multiple of downsample) go through the same weights: training uses them."""
    model, _ = trained
    crop = images[:3, 8:24, 4:28]  # 16 x 24
    assert model.encode(crop).shape == (3, 4, 6)
    assert model.reconstruct(crop).shape == crop.shape
    assert model.decode(model.encode(crop)).shape == crop.shape


def test_train_and_test_step_report_the_metrics(trained, images):
    model, history = trained
    assert METRIC_NAMES <= set(history)
    for name in METRIC_NAMES:
        assert all(np.isfinite(history[name])), name
    np.testing.assert_allclose(
        history["loss"],
        np.add(history["reconstruction_loss"], history["quantizer_loss"]),
        rtol=1e-5,
    )
    assert 1.0 <= history["perplexity"][-1] <= TINY["num_embeddings"]
    assert 0.0 < history["codebook_usage"][-1] <= 1.0
    results = model.evaluate(images, batch_size=8, verbose=0, return_dict=True)
    assert METRIC_NAMES <= set(results)
    reconstruction = np.mean((model.reconstruct(images) - images) ** 2)
    assert results["reconstruction_loss"] == pytest.approx(reconstruction, rel=1e-4)


def test_training_lowers_the_loss(images):
    keras.utils.set_random_seed(1)
    model = training.make_vqvae(learning_rate=3e-3, run_eagerly=True, **TINY)
    history = model.fit(images, batch_size=8, epochs=6, verbose=0).history
    assert history["reconstruction_loss"][-1] < 0.8 * history["reconstruction_loss"][0]


@pytest.mark.parametrize("variant", ["ema", "standard"])
def test_save_and_load_keras_file_in_safe_mode(tmp_path, images, variant):
    keras.utils.set_random_seed(2)
    model = training.make_vqvae(learning_rate=1e-3, run_eagerly=True, quantizer=variant, **TINY)
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "vqvae.keras"
    model.save(path)
    loaded = models.load_vqvae(path)  # keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.VQVAE)
    assert loaded.get_config()["quantizer"] == variant
    np.testing.assert_array_equal(loaded.reconstruct(images), model.reconstruct(images))
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    np.testing.assert_array_equal(np.asarray(loaded.quantizer.codebook), model.quantizer.codebook)
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_load_vqvae_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebooks/03_train_vqvae.ipynb"):
        models.load_vqvae(tmp_path / "missing.keras")


def test_mixed_precision_policy_on_cpu(images):
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(3)
        model = training.make_vqvae(learning_rate=1e-3, run_eagerly=True, **TINY)
        assert model.encoder.layers[1].compute_dtype == "float16"
        assert model.quantizer.codebook.dtype == "float32"
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(images, batch_size=8, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"]).all()
        reconstructions = model.reconstruct(images)
        assert reconstructions.dtype == np.float32  # the final sigmoid stays float32
        assert model.encode(images).dtype == np.int32
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_bits_per_slice_and_shape_table():
    assert models.bits_per_slice(256, 4, 512) == 64 * 64 * 9
    assert models.bits_per_slice(256, 8, 256) == 32 * 32 * 8
    model = models.VQVAE(**TINY)
    assert model.bits_per_slice == 8 * 8 * 4
    table = models.layer_shape_table(model)
    parts = [row["part"] for row in table]
    assert parts.index("quantizer") == parts.count("encoder")
    assert table[-1]["output_shape"] == (32, 32, 1)
    assert any(row["output_shape"] == (8, 8, 4) for row in table if row["part"] == "encoder")
    assert sum(row["parameters"] for row in table) == model.count_params()


@pytest.mark.parametrize("variant", ["ema", "standard"])
def test_quantizer_loss_equals_the_layers_own_losses(images, variant):
    """The model recomputes the quantizer losses (replica-safe); they equal the layer's."""
    keras.utils.set_random_seed(4)
    model = training.make_vqvae(learning_rate=1e-3, run_eagerly=True, quantizer=variant, **TINY)
    batch = images[:8]
    _, quantizer_loss = model._vq_losses(batch, training=False)
    layer_losses = float(sum(np.asarray(loss) for loss in model.quantizer.losses))
    assert float(quantizer_loss) == pytest.approx(layer_losses, rel=1e-5)
    if variant == "standard":  # the codebook is trained through the recomputed loss
        model.fit(batch, batch_size=8, epochs=1, verbose=0)  # includes the data initialisation
        before = np.array(model.quantizer.codebook)
        model.fit(batch, batch_size=8, epochs=1, verbose=0)
        assert not np.allclose(before, model.quantizer.codebook)
