"""prior.summary: what notebook 04 writes to metrics.json, from stand-in measurements."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior

#: The keys of notebook 04's metrics.json (tests/test_notebooks.py checks some of them).
NOTEBOOK_04_KEYS = {
    "batch_size",
    "context_bits_per_code",
    "context_smoothing",
    "diversity_ssim_samples",
    "diversity_ssim_test",
    "epochs",
    "frechet_context",
    "frechet_prior",
    "frechet_train_test",
    "frechet_uniform",
    "frechet_unigram",
    "learning_rate",
    "max_train_minutes",
    "nearest_train_ssim_samples",
    "nearest_train_ssim_test",
    "nll_bits_per_code_test",
    "nll_bits_per_code_train",
    "num_samples",
    "parameters",
    "prior_config",
    "quality_samples",
    "sample_seconds",
    "smoke",
    "steps_per_epoch",
    "stopped_by",
    "temperature",
    "top_k",
    "trace_seconds",
    "train_grids_per_second",
    "train_seconds",
    "training_folder",
    "uniform_bits_per_code",
    "unigram_bits_per_code",
    "unigram_entropy_train_bits",
}


def test_prior_summary_reports_every_measurement_under_its_metrics_key():
    model = fx.tiny_prior()
    model(fx.random_codes(1, 4, 4))  # built: it has a parameter count
    bits = {"uniform": 2.8, "unigram": 2.5, "neighbour table": 2.0, "PixelCNN prior": 1.5}
    settings = {"batch_size": 4, "steps_per_epoch": 3, "learning_rate": 1e-3, "seed": 0}
    settings.update(max_train_minutes=None, smoke=True, codes="codes.npz", epochs=2)
    result = SimpleNamespace(
        epochs_completed=2, stopped_by="epochs", total_train_seconds=9.5, images_per_second=3.0
    )
    unigram = SimpleNamespace(entropy_bits=lambda: 2.4)
    neighbour = SimpleNamespace(smoothing=8.0)
    samples = prior.TimedSamples(np.zeros((2, 4, 4), np.int32), None, 0.7, None, 1.5, 0.25)
    frechet = {"prior": 0.1, "context": 0.5, "unigram": 0.3, "uniform": 4.0, "train_test": 0.02}
    quality = prior.SampleQuality(frechet, 0.6, 0.7, 0.72, 0.77, 4)
    summary = prior.prior_summary(
        model, settings, result, "04/training/abc", bits, 1.6, unigram, neighbour, samples, quality
    )
    assert set(summary) == NOTEBOOK_04_KEYS
    assert summary["nll_bits_per_code_test"] == 1.5 and summary["nll_bits_per_code_train"] == 1.6
    assert (summary["uniform_bits_per_code"], summary["context_bits_per_code"]) == (2.8, 2.0)
    assert (summary["unigram_entropy_train_bits"], summary["context_smoothing"]) == (2.4, 8.0)
    assert (summary["num_samples"], summary["quality_samples"]) == (2, 4)
    assert (summary["temperature"], summary["top_k"], summary["trace_seconds"]) == (0.7, None, 0.25)
    assert {key: summary[f"frechet_{key}"] for key in frechet} == frechet
    assert summary["nearest_train_ssim_test"] == 0.77 and summary["diversity_ssim_samples"] == 0.6
    assert summary["prior_config"] == {key: model.get_config()[key] for key in prior.DEFAULT_PRIOR}
    assert summary["prior_config"]["num_embeddings"] == fx.PRIOR_CODES
    assert summary["parameters"] == model.count_params() > 0
    assert (summary["epochs"], summary["train_seconds"]) == (2, 9.5)
    assert summary["training_folder"] == "04/training/abc"
    assert "codes" not in summary and "seed" not in summary  # settings that name the folder
    assert summary["smoke"] is True and summary["max_train_minutes"] is None
    del bits["neighbour table"]
    with pytest.raises(ValueError, match="neighbour table"):
        prior.prior_summary(
            model, settings, result, "x", bits, 1.6, unigram, neighbour, samples, quality
        )
