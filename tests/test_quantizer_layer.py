"""Tests of oasis_helpers.quantizer.layer (both layers: the EMA one inherits it), hand-made inputs.

Covered: shapes, the nearest-code choice, the straight-through gradient, the loss values
(one route: ``vq_losses`` called with the forward pass's own tensors, added with
``add_loss`` or returned), perplexity and usage metrics, dead-code restart, data
initialisation, metrics in ``fit`` logs (also with a custom ``train_step``), the ``.keras``
round trip, mixed precision, XLA, argument checks and the defaults.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from oasis_fixtures import make_layer

from oasis_helpers import quantizer
from oasis_helpers.quantizer import VectorQuantizer, VectorQuantizerEMA

BOTH = [VectorQuantizer, VectorQuantizerEMA]


@pytest.mark.parametrize("cls", BOTH)
def test_nearest_code_shapes_and_lookup(cls):
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(16, 3)).astype("float32")
    inputs = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    layer = make_layer(cls, codebook)

    outputs = layer(inputs).numpy()
    indices = layer.code_indices(inputs).numpy()

    brute_force = ((inputs[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)
    assert outputs.shape == inputs.shape
    assert indices.shape == (2, 5, 4) and indices.dtype == np.int32
    np.testing.assert_array_equal(indices, brute_force)
    np.testing.assert_allclose(outputs, codebook[brute_force], atol=1e-6)
    np.testing.assert_array_equal(layer.lookup(indices).numpy(), codebook[brute_force])
    np.testing.assert_array_equal(layer.codebook.numpy(), codebook)


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("training", [False, True])
def test_straight_through_passes_upstream_gradient_exactly(cls, training):
    rng = np.random.default_rng(2)
    layer = make_layer(cls, rng.normal(size=(8, 4)))
    inputs = tf.constant(rng.normal(size=(3, 6, 4)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(3, 6, 4)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=training)
        objective = tf.reduce_sum(outputs * upstream)
    np.testing.assert_array_equal(tape.gradient(objective, inputs).numpy(), upstream.numpy())
    # The decoder's gradient never reaches the codebook: only the codebook loss trains it.
    gradient = tape.gradient(objective, layer.embeddings.value)
    assert gradient is None or not np.any(tf.convert_to_tensor(gradient).numpy())


def test_losses_equal_the_formula_on_a_hand_case():
    layer = make_layer(VectorQuantizer, [[0.0, 0.0], [1.0, 1.0]], commitment_cost=0.25)
    inputs = tf.constant([[0.2, 0.1], [0.9, 0.6]])
    with tf.GradientTape() as tape:
        layer(inputs, training=False)
        codebook_loss, commitment_loss = layer.losses
    # nearest codes 0 and 1; squared errors 0.04, 0.01, 0.01, 0.16 -> mean 0.055
    np.testing.assert_allclose(float(codebook_loss), 0.055, rtol=1e-6)
    np.testing.assert_allclose(float(commitment_loss), 0.25 * 0.055, rtol=1e-6)
    # d/de mean((sg[x] - e)^2) = -2 (x - e) / (N * D) for each assigned code
    gradient = tf.convert_to_tensor(tape.gradient(codebook_loss, layer.embeddings.value))
    gradient = gradient.numpy()
    np.testing.assert_allclose(gradient, [[-0.1, -0.05], [0.05, 0.2]], rtol=1e-5)

    ema = make_layer(VectorQuantizerEMA, [[0.0, 0.0], [1.0, 1.0]], commitment_cost=0.5)
    ema(inputs)
    assert len(ema.losses) == 1  # no codebook loss in the EMA variant
    np.testing.assert_allclose(float(ema.losses[0]), 0.5 * 0.055, rtol=1e-6)


@pytest.mark.parametrize("cls", BOTH)
def test_returned_losses_equal_the_added_losses(cls):
    """The two ways out of the layer carry the same numbers: one route, not two formulas."""
    rng = np.random.default_rng(12)
    layer = make_layer(cls, rng.normal(size=(8, 3)), commitment_cost=0.4)
    inputs = tf.constant(rng.normal(size=(5, 4, 3)).astype("float32"))
    outputs, returned = layer(inputs, return_losses=True)
    assert layer.losses == []  # return_losses adds nothing (replica-safe)
    added_outputs = layer(inputs)
    np.testing.assert_array_equal(outputs.numpy(), added_outputs.numpy())
    np.testing.assert_allclose([float(value) for value in returned.values()], layer.losses)
    chosen = layer.lookup(layer.code_indices(inputs)).numpy()
    error = np.mean((inputs.numpy() - chosen) ** 2)
    np.testing.assert_allclose(float(returned["commitment_loss"]), 0.4 * error, rtol=1e-5)
    if cls is VectorQuantizer:
        np.testing.assert_allclose(float(returned["codebook_loss"]), error, rtol=1e-5)
    else:
        assert "codebook_loss" not in returned


def test_loss_after_a_restart_uses_the_codebook_of_the_forward_pass():
    """A restart inside the call moves dead codes onto batch vectors; the loss (and its
    gradient) must still belong to the codes the forward pass chose, not the new codebook."""
    codebook = np.array([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [-50.0, 50.0]], "float32")
    layer = make_layer(VectorQuantizer, codebook, dead_code_steps=1)
    batch = tf.constant(np.random.default_rng(13).uniform(-0.2, 1.2, (32, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        outputs, losses = layer(batch, training=True, return_losses=True)
    assert layer.dead_codes_restarted == 2  # codes 2 and 3 moved onto batch vectors
    before = codebook[((batch.numpy()[:, None] - codebook[None]) ** 2).sum(-1).argmin(1)]
    after_codebook = layer.codebook.numpy()
    after = after_codebook[layer.code_indices(batch).numpy()]
    expected = np.mean((batch.numpy() - before) ** 2)
    np.testing.assert_allclose(outputs.numpy(), before, atol=1e-6)
    np.testing.assert_allclose(float(losses["codebook_loss"]), expected, rtol=1e-5)
    assert np.mean((batch.numpy() - after) ** 2) < 0.9 * expected  # the new codebook differs
    gradient = tf.convert_to_tensor(tape.gradient(losses["codebook_loss"], layer.embeddings.value))
    gradient = gradient.numpy()
    assert np.any(gradient[:2]) and not np.any(gradient[2:])  # only the codes that were chosen


def test_losses_reach_model_losses():
    inputs = keras.Input((3, 2))
    outputs = VectorQuantizer(4, 2, init=None, dead_code_steps=None)(inputs)
    model = keras.Model(inputs, outputs)
    model(np.ones((1, 3, 2), "float32"))
    assert len(model.losses) == 2


@pytest.mark.parametrize("cls", BOTH)
def test_layer_metrics_report_perplexity_and_usage(cls):
    codebook = np.eye(4, dtype="float32") * 3
    layer = make_layer(cls, codebook)
    layer(np.repeat(codebook, 2, axis=0))  # every code twice
    assert {metric.name for metric in layer.metrics} == {
        "batch_perplexity",
        "batch_codebook_usage",
    }
    np.testing.assert_allclose(float(layer.perplexity_tracker.result()), 4.0, rtol=1e-6)
    assert float(layer.usage_tracker.result()) == 1.0
    for metric in layer.metrics:
        metric.reset_state()
    layer(np.repeat(codebook[:1], 5, axis=0))  # a single code
    np.testing.assert_allclose(float(layer.perplexity_tracker.result()), 1.0)
    assert float(layer.usage_tracker.result()) == 0.25


@pytest.mark.parametrize("cls", BOTH)
def test_dead_code_restart_revives_unused_codes(cls):
    codebook = [[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [-50.0, 50.0]]
    layer = make_layer(cls, codebook, dead_code_steps=2)
    rng = np.random.default_rng(3)
    batch = rng.uniform(-0.2, 1.2, size=(32, 2)).astype("float32")

    layer(batch, training=True)
    assert layer.dead_codes_restarted == 0
    np.testing.assert_array_equal(layer.steps_since_used.numpy(), [0, 0, 1, 1])
    layer(batch, training=True)
    assert layer.dead_codes_restarted == 2
    np.testing.assert_array_equal(layer.steps_since_used.numpy(), [0, 0, 0, 0])
    revived = layer.codebook.numpy()[2:]
    for row in revived:  # each restarted code is one of the batch's encoder outputs
        assert np.any(np.all(np.isclose(batch, row), axis=1))
    assert not np.allclose(revived[0], revived[1])
    counts = quantizer.code_counts(layer.code_indices(batch), 4).numpy()
    assert np.all(counts[2:] > 0)  # the revived codes are now in use


def test_no_restart_when_switched_off():
    layer = make_layer(VectorQuantizer, [[0.0, 0.0], [50.0, 50.0]], dead_code_steps=None)
    for _ in range(3):
        layer(np.zeros((4, 2), "float32"), training=True)
    assert layer.dead_codes_restarted == 0
    np.testing.assert_array_equal(layer.codebook.numpy()[1], [50.0, 50.0])
    np.testing.assert_array_equal(layer.steps_since_used.numpy(), [0, 3])


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_data_initialisation_from_first_training_batch(cls, init):
    rng = np.random.default_rng(4)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    batch = (np.repeat(centres, 20, axis=0) + rng.normal(0, 0.01, (60, 2))).astype("float32")
    layer = cls(3, 2, init=init, dead_code_steps=None, seed=11)
    layer(batch, training=False)  # evaluation never initialises
    assert int(layer.initialized.numpy()) == 0
    layer(batch, training=True)
    assert int(layer.initialized.numpy()) == 1
    codebook = layer.codebook.numpy()
    if cls is VectorQuantizer:  # EMA has already averaged the rows; the plain codebook has not
        for row in codebook:
            assert np.any(np.all(batch == row, axis=1))
    if init == "kmeans++":  # far-apart clusters: one seed in each
        nearest_centre = ((codebook[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        assert sorted(nearest_centre.tolist()) == [0, 1, 2]
    layer(batch + 1000.0, training=True)  # later batches never re-initialise
    if cls is VectorQuantizer:  # (no optimizer here, so the plain codebook stays put)
        np.testing.assert_array_equal(layer.codebook.numpy(), codebook)
    else:  # the EMA moves part of the way only; a re-initialisation would jump to ~1000
        assert np.abs(layer.codebook.numpy()).max() < 900


def fit_logs(model, inputs):
    history = model.fit(inputs, inputs, epochs=1, batch_size=8, verbose=0)
    return history.history


class CustomTrainer(keras.Model):
    """A model with its own train_step returning every metric, as helper models do."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.layers.Dense(4)
        self.vq = VectorQuantizer(8, 4)
        self.decoder = keras.layers.Dense(3)
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    def call(self, inputs, training=False):
        return self.decoder(self.vq(self.encoder(inputs), training=training))

    def train_step(self, data):
        inputs, _ = data
        with tf.GradientTape() as tape:
            outputs = self(inputs, training=True)
            loss = tf.reduce_mean(tf.square(outputs - inputs)) + tf.add_n(self.losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        self.total_loss_tracker.update_state(loss)
        return {metric.name: metric.result() for metric in self.metrics}


def test_metrics_appear_with_a_custom_train_step():
    model = CustomTrainer()
    model.compile(optimizer="adam")
    data = np.random.default_rng(6).random((16, 3)).astype("float32")
    logs = fit_logs(model, data)
    assert {"total_loss", "batch_perplexity", "batch_codebook_usage"} <= set(logs)
    assert any(variable is model.vq.embeddings for variable in model.trainable_variables)


@pytest.mark.parametrize("cls", BOTH)
def test_fit_logs_metrics_and_keras_file_round_trip(cls, tmp_path):
    inputs = keras.Input((4, 4, 2))
    hidden = keras.layers.Conv2D(3, 1)(inputs)
    quantized = cls(6, 3, commitment_cost=0.3, dead_code_steps=2, seed=3, name="vq")(hidden)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(quantized))
    model.compile(optimizer="adam", loss="mse")
    data = np.random.default_rng(7).random((16, 4, 4, 2)).astype("float32")

    logs = fit_logs(model, data)  # also moves the state away from its initial values
    assert {"loss", "batch_perplexity", "batch_codebook_usage"} <= set(logs)
    assert 1.0 <= logs["batch_perplexity"][0] <= 6.0
    assert 0.0 < logs["batch_codebook_usage"][0] <= 1.0

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)

    original, restored = model.get_layer("vq"), loaded.get_layer("vq")
    assert type(restored) is cls
    assert restored.get_config() == original.get_config()
    for before, after in zip(original.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(before.numpy(), after.numpy())
    np.testing.assert_array_equal(model.predict(data, verbose=0), loaded.predict(data, verbose=0))
    encoder = keras.Model(model.inputs[0], model.layers[1].output)
    np.testing.assert_array_equal(
        original.code_indices(encoder(data)).numpy(), restored.code_indices(encoder(data)).numpy()
    )


@pytest.mark.parametrize("cls", BOTH)
def test_mixed_precision_keeps_codebook_and_distances_in_float32(cls):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        rng = np.random.default_rng(8)
        layer = cls(16, 4, init=None, dead_code_steps=None)
        inputs16 = tf.constant(rng.normal(size=(10, 4)), tf.float16)
        outputs = layer(inputs16, training=True)
        assert outputs.dtype == tf.float16
        assert layer.embeddings.dtype == "float32" and layer.codebook.dtype == tf.float32
        assert all(loss.dtype == tf.float32 for loss in layer.losses)
        _, returned = layer(inputs16, training=True, return_losses=True)
        assert all(loss.dtype == tf.float32 for loss in returned.values())
        reference = (inputs16.numpy().astype("float64")[:, None] - layer.codebook.numpy()) ** 2
        np.testing.assert_array_equal(
            layer.code_indices(inputs16).numpy(), reference.sum(-1).argmin(1)
        )

        inputs = keras.Input((3,))
        hidden = keras.layers.Dense(4)(inputs)
        model = keras.Model(inputs, keras.layers.Dense(3)(cls(8, 4, dead_code_steps=1)(hidden)))
        model.compile(optimizer="adam", loss="mse")
        logs = fit_logs(model, rng.random((16, 3)).astype("float32"))
        assert np.isfinite(logs["loss"][0]) and logs["batch_perplexity"][0] >= 1.0
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_training_call_compiles_with_xla():
    """Keras fits with XLA on GPUs by default (jit_compile="auto"): every op must compile.

    The EMA layer's training path contains every op of the plain layer's but the
    codebook loss (plain arithmetic); one compilation keeps the test short.
    """
    layer = VectorQuantizerEMA(16, 4, init="kmeans++", dead_code_steps=1, seed=1)
    layer.build((None, 4))
    step = tf.function(
        lambda batch: layer(batch, training=True),
        jit_compile=True,
        input_signature=[tf.TensorSpec([None, 4], tf.float32)],
    )
    rng = np.random.default_rng(10)
    for _ in range(2):  # batch size unknown when traced, as in Keras' fit
        outputs = step(tf.constant(rng.random((64, 4)), tf.float32))
        assert outputs.shape == (64, 4)
    assert int(layer.initialized.numpy()) == 1 and layer.dead_codes_restarted > 0
    assert np.all(np.isfinite(layer.codebook.numpy()))


def test_invalid_arguments_raise_helpful_errors():
    with pytest.raises(ValueError, match="embedding_dim"):
        VectorQuantizer(8, 4)(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="init"):
        VectorQuantizer(8, 4, init="kmeans")
    with pytest.raises(ValueError, match="decay"):
        VectorQuantizerEMA(8, 4, decay=1.0)
    with pytest.raises(ValueError, match="num_embeddings"):
        VectorQuantizer(0, 4)


@pytest.mark.parametrize("cls", BOTH)
def test_a_layer_built_without_settings_uses_the_module_defaults(cls):
    """The DEFAULT_* constants (which models.DEFAULT_CONFIG uses) are what a layer does when
    it is given nothing: the commitment loss is weighted by DEFAULT_COMMITMENT_COST, the
    codebook initialised by DEFAULT_INIT, codes restarted after DEFAULT_DEAD_CODE_STEPS."""
    layer = cls(2, 2)
    layer.build((None, 2))
    layer.set_codebook(np.array([[0.0, 0.0], [1.0, 1.0]], np.float32))
    _, losses = layer(tf.constant([[0.2, 0.1], [0.9, 0.6]]), return_losses=True)
    # nearest codes 0 and 1: mean squared error 0.055 (test_losses_equal_the_formula...)
    expected = quantizer.DEFAULT_COMMITMENT_COST * 0.055
    np.testing.assert_allclose(float(losses["commitment_loss"]), expected, rtol=1e-6)
    assert layer.init == quantizer.DEFAULT_INIT
    assert layer.dead_code_steps == quantizer.DEFAULT_DEAD_CODE_STEPS
    if cls is VectorQuantizerEMA:
        assert layer.decay == quantizer.DEFAULT_EMA_DECAY
