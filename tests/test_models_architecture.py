"""Tests of oasis_helpers.models.architecture: the networks' shapes, the configuration rules,
and DEFAULT_CONFIG as the one place of the default model (the class, the benchmark, the README)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import models, quantizer

REPOSITORY = Path(__file__).resolve().parents[1]

TINY = fx.TINY_VQVAE  # the settings of the trained fixture (tests/conftest.py)


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


def test_the_model_built_without_settings_is_default_config():
    """VQVAE() is DEFAULT_CONFIG's model, every one of its settings is in DEFAULT_CONFIG, and
    the encoder, decoder and quantizer built without settings are that model's."""
    default = models.VQVAE()
    config = default.get_config()
    for name, value in models.DEFAULT_CONFIG.items():
        assert config[name] == (list(value) if isinstance(value, tuple) else value), name
    base = set(keras.Model.get_config(default))  # name, trainable, dtype
    assert set(config) - base - {"quantizer_options"} == set(models.DEFAULT_CONFIG)
    assert default.count_params() == models.VQVAE(**models.DEFAULT_CONFIG).count_params()
    size = models.DEFAULT_CONFIG["image_size"]
    code_size = size // models.DEFAULT_CONFIG["downsample"]
    encoder, decoder = models.build_encoder(), models.build_decoder()
    assert encoder.output.shape[1:] == (code_size, code_size, default.embedding_dim)
    assert decoder.output.shape[1:] == (size, size, 1)
    assert encoder.count_params() == default.encoder.count_params()
    layer, own = default.quantizer, quantizer.VectorQuantizerEMA(2, 2)
    assert isinstance(layer, quantizer.VectorQuantizerEMA)
    for name in ("decay", "dead_code_steps", "commitment_cost", "init"):
        assert getattr(layer, name) == getattr(own, name), name


def test_benchmark_series_config_is_the_default_config():
    path = REPOSITORY / "benchmarks" / "reconstruction.py"
    spec = importlib.util.spec_from_file_location("reconstruction_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.series_config() == models.DEFAULT_CONFIG
    # the keras.io row with the series' quantizer differs from the default in networks only
    series_quantizer = module.keras_io_config(series_quantizer=True)
    for name in ("num_embeddings", "embedding_dim", "quantizer", "ema_decay", "dead_code_steps"):
        assert series_quantizer[name] == models.DEFAULT_CONFIG[name], name


def test_readme_states_the_default_config():
    """Every README sentence that gives the defaults ("defaults: ... K = 256, D = 16 ...")
    agrees with DEFAULT_CONFIG in what it names: K, D, channels, downsample, EMA decay,
    "restarts after N" (dead_code_steps)."""
    import re

    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    # a sentence ends at a full stop that no digit follows ("decay 0.95" stays inside)
    body = r"(?:[^.]|\.(?=\d))"
    sentences = re.findall(rf"defaults?\b{body}*?K = \d+, D = \d+{body}*", text)
    assert sentences, "README.md should state the default model as 'defaults: ... K = .., D = ..'"
    default = models.DEFAULT_CONFIG
    for sentence in sentences:
        found = re.search(r"K = (\d+), D = (\d+)", sentence)
        assert (int(found[1]), int(found[2])) == (
            default["num_embeddings"],
            default["embedding_dim"],
        ), sentence
        if channels := re.search(r"channels\s*\((\d+), (\d+)\)", sentence):
            assert (int(channels[1]), int(channels[2])) == default["channels"], sentence
        if downsample := re.search(r"downsample (\d+)", sentence):
            assert int(downsample[1]) == default["downsample"], sentence
        if decay := re.search(r"decay (0\.\d+)", sentence):
            assert float(decay[1]) == default["ema_decay"], sentence
        if restarts := re.search(r"restarts\s+after (\d+)", sentence):
            assert int(restarts[1]) == default["dead_code_steps"], sentence
