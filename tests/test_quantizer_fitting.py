"""Tests of oasis_helpers.quantizer.fitting: a bare layer fitted to fixed vectors."""

from __future__ import annotations

import numpy as np
import pytest
from oasis_fixtures import make_layer

from oasis_helpers import metrics, quantizer
from oasis_helpers.quantizer import VectorQuantizer, VectorQuantizerEMA


def test_fit_to_vectors_and_codebook_health_on_two_clusters():
    rng = np.random.default_rng(9)
    vectors = np.concatenate([rng.normal(0, 0.01, (200, 2)), rng.normal(5, 0.01, (200, 2))])
    layer = VectorQuantizerEMA(2, 2, init="kmeans++", dead_code_steps=None, seed=0)
    history = quantizer.fit_to_vectors(layer, vectors, steps=3, batch_size=64)
    assert len(history["batch_perplexity"]) == len(history["loss"]) == 3
    assert all(1.0 <= value <= 2.0 for value in history["batch_perplexity"])
    assert history["batch_codebook_usage"][-1] == 1.0
    health = metrics.codebook_health(layer, vectors)
    assert health["codebook_usage"] == 1.0
    np.testing.assert_allclose(health["code_perplexity"], 2.0, rtol=1e-6)
    np.testing.assert_array_equal(health["counts"], [200, 200])
    assert health["reconstruction_mse"] < 1e-3
    with pytest.raises(ValueError, match=r"shape \[M, 2\]"):
        quantizer.fit_to_vectors(layer, np.zeros((4, 3)), steps=1)


def test_fit_to_vectors_trains_the_plain_codebook():
    """The plain codebook learns from the returned codebook loss (online k-means)."""
    rng = np.random.default_rng(14)
    vectors = np.concatenate([rng.normal(-1, 0.05, (100, 2)), rng.normal(1, 0.05, (100, 2))])
    layer = make_layer(VectorQuantizer, [[-0.5, -0.5], [0.5, 0.5]])
    history = quantizer.fit_to_vectors(layer, vectors, steps=60, batch_size=64, learning_rate=0.05)
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    codebook = np.sort(layer.codebook.numpy(), axis=0)
    np.testing.assert_allclose(codebook, [[-1, -1], [1, 1]], atol=0.1)
