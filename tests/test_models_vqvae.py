"""The VQ-VAE (oasis_helpers.models.vqvae): shapes, codes, save/load, the training metrics
and losses, and mixed precision.

Tiny models on 32x32 images (the ``images`` and ``trained`` fixtures of tests/conftest.py);
most training runs eagerly (no graph tracing) to stay fast.
"""

from __future__ import annotations

import keras
import numpy as np
import oasis_fixtures as fx
import pytest
import tensorflow as tf

from oasis_helpers import models, quantizer

TINY = fx.TINY_VQVAE  # the settings of the trained fixture (tests/conftest.py)

METRIC_NAMES = {
    "loss",
    "reconstruction_loss",
    "quantizer_loss",
    "batch_perplexity",
    "batch_codebook_usage",
}


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
    assert 1.0 <= history["batch_perplexity"][-1] <= TINY["num_embeddings"]
    assert 0.0 < history["batch_codebook_usage"][-1] <= 1.0
    results = model.evaluate(images, batch_size=8, verbose=0, return_dict=True)
    assert METRIC_NAMES <= set(results)
    reconstruction = np.mean((model.reconstruct(images) - images) ** 2)
    assert results["reconstruction_loss"] == pytest.approx(reconstruction, rel=1e-4)


def test_training_lowers_the_loss(images):
    keras.utils.set_random_seed(1)
    model = models.make_vqvae(learning_rate=3e-3, run_eagerly=True, **TINY)
    history = model.fit(images, batch_size=8, epochs=6, verbose=0).history
    assert history["reconstruction_loss"][-1] < 0.8 * history["reconstruction_loss"][0]


@pytest.mark.parametrize("variant", ["ema", "standard"])
def test_save_and_load_keras_file_in_safe_mode(tmp_path, images, variant):
    keras.utils.set_random_seed(2)
    model = models.make_vqvae(learning_rate=1e-3, run_eagerly=True, quantizer=variant, **TINY)
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / models.VQVAE_FILE
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
        model = models.make_vqvae(learning_rate=1e-3, run_eagerly=True, **TINY)
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
def test_quantizer_loss_is_the_layers_own_losses(images, variant):
    """compute_losses takes the losses the quantizer returns: the same numbers as add_loss."""
    keras.utils.set_random_seed(4)
    model = models.make_vqvae(learning_rate=1e-3, run_eagerly=True, quantizer=variant, **TINY)
    batch = images[:8]
    _, quantizer_loss = model.compute_losses(batch, training=False)
    model(batch)  # a plain call: the layer adds its losses with add_loss
    layer_losses = float(sum(np.asarray(loss) for loss in model.quantizer.losses))
    assert float(quantizer_loss) == pytest.approx(layer_losses, rel=1e-5)
    # and the hand formula, from the encoder's output and the chosen codes
    z_e = np.asarray(model.encoder(batch))
    chosen = np.asarray(model.quantizer.lookup(model.quantizer.code_indices(z_e)))
    error = np.mean((z_e - chosen) ** 2)
    weight = (1.0 if variant == "standard" else 0.0) + model.commitment_cost
    assert float(quantizer_loss) == pytest.approx(weight * error, rel=1e-4)


@pytest.mark.parametrize("variant", ["ema", "standard"])
def test_gradients_reach_the_encoder_and_the_plain_codebook(images, variant):
    keras.utils.set_random_seed(5)
    model = models.make_vqvae(learning_rate=1e-3, run_eagerly=True, quantizer=variant, **TINY)
    with tf.GradientTape() as tape:
        _, quantizer_loss = model.compute_losses(images[:8], training=True)
    variables = model.encoder.trainable_variables + model.quantizer.trainable_variables
    gradients = tape.gradient(quantizer_loss, variables)
    encoder_gradients = gradients[: len(model.encoder.trainable_variables)]
    assert any(np.any(np.asarray(gradient)) for gradient in encoder_gradients)
    codebook_gradients = gradients[len(model.encoder.trainable_variables) :]
    if variant == "standard":  # the codebook loss trains the codebook
        assert len(codebook_gradients) == 1 and np.any(np.asarray(codebook_gradients[0]))
    else:  # the EMA codebook is not a trainable weight
        assert codebook_gradients == []


def test_loss_after_a_restart_belongs_to_the_forward_pass(images):
    """A restart during the step must not change the codes the loss is computed with."""
    keras.utils.set_random_seed(6)
    model = models.make_vqvae(
        run_eagerly=True,
        quantizer="standard",
        dead_code_steps=1,
        quantizer_options={"init": None, "seed": 1},
        **TINY,
    )
    batch = images[:8]
    z_e = np.asarray(model.encoder(batch)).reshape(-1, TINY["embedding_dim"])
    codebook = np.zeros((TINY["num_embeddings"], TINY["embedding_dim"]), np.float32)
    codebook[0] = z_e.mean(0)  # one live code; the others far away, dead after this step
    codebook[1:] = 100.0 + np.arange(1, TINY["num_embeddings"])[:, None]
    model.quantizer.set_codebook(codebook)
    _, quantizer_loss = model.compute_losses(batch, training=True)
    assert model.quantizer.dead_codes_restarted == TINY["num_embeddings"] - 1
    expected = (1.0 + model.commitment_cost) * np.mean((z_e - codebook[0]) ** 2)
    assert float(quantizer_loss) == pytest.approx(expected, rel=1e-4)


def test_quantizer_settings_have_their_own_arguments():
    model = models.VQVAE(**TINY, ema_decay=0.9, dead_code_steps=7, quantizer_options={"seed": 3})
    assert model.quantizer.decay == 0.9 and model.quantizer.dead_code_steps == 7
    assert model.quantizer.seed == 3
    with pytest.raises(ValueError, match="ema_decay=0.5"):
        models.VQVAE(**TINY, quantizer_options={"decay": 0.5})
