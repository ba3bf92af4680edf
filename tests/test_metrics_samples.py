"""Tests of oasis_helpers.metrics.samples: Frechet distance, diversity, memorisation and the
encoder features, against known values; and the metrics import no model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from oasis_helpers import metrics


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4000, 3))
    assert metrics.frechet_distance(first, rng.normal(size=(4000, 3))) < 0.02
    shifted = rng.normal(size=(4000, 3)) + np.array([2.0, 0.0, 0.0])
    assert metrics.frechet_distance(first, shifted) == pytest.approx(4.0, abs=0.15)
    # N(0, 1) vs N(0, 4) in one dimension: (1 - 2)^2 = 1
    wide = rng.normal(size=(4000, 1)) * 2.0
    assert metrics.frechet_distance(first[:, :1], wide) == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="feature sets"):
        metrics.frechet_distance(first, first[:, :2])


def test_diversity_and_nearest_ssim():
    rng = np.random.default_rng(0)
    images = rng.random((6, 32, 32, 1)).astype(np.float32)
    copies = np.repeat(images[:1], 4, axis=0)
    assert metrics.mean_pairwise_ssim(copies) == pytest.approx(1.0, abs=1e-4)
    assert metrics.mean_pairwise_ssim(images) < 0.2
    nearest = metrics.nearest_ssim(images[:3] * 0.999, images, candidates=2)
    assert nearest.shape == (3,) and np.all(nearest > 0.99)
    strangers = metrics.nearest_ssim(rng.random((3, 32, 32, 1)).astype(np.float32), images)
    assert np.all(strangers < 0.2)


def test_encoder_features_pool_the_pre_quantisation_output():
    from oasis_helpers import models

    keras.utils.set_random_seed(0)
    vqvae = models.VQVAE(
        image_size=16,
        channels=(4, 4),
        num_residual_blocks=1,
        residual_channels=4,
        num_embeddings=8,
        embedding_dim=3,
    )
    images = np.random.default_rng(0).random((5, 16, 16, 1)).astype(np.float32)
    features = metrics.encoder_features(vqvae, images, grid=2, batch_size=2)
    assert features.shape == (5, 3 * (2 * 2 + 1))
    z_e = np.asarray(vqvae.encoder(images))
    np.testing.assert_allclose(features[:, -3:], z_e.std(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        features[:, :3], z_e[:, :2, :2].mean(axis=(1, 2)), rtol=1e-4, atol=1e-6
    )


def test_metrics_and_quantizer_import_no_model_module():
    """Imports point one way: the metrics take models as arguments and import none."""
    import subprocess
    import sys

    code = (
        "import sys; from oasis_helpers import metrics; "
        "print(sorted({'.'.join(m.split('.')[:2]) for m in sys.modules"
        " if m.startswith('oasis_helpers.')}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['oasis_helpers.metrics', 'oasis_helpers.quantizer']"
