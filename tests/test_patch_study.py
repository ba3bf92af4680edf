"""Notebook 02's patch study: the codebook-size sweep and what metrics.json holds."""

from __future__ import annotations

import numpy as np

from oasis_helpers import metrics, patch_study, quantizer

#: Fitting settings of the tests: tiny, fast and seeded.
OPTIONS = {"commitment_cost": 0.25, "batch_size": 32, "learning_rate": 1e-2, "seed": 3}
#: The keys of notebook 02's metrics.json (tests/test_notebooks.py and the README read some).
NOTEBOOK_02_SETTINGS = ("steps", "batch_size", "patch_size", "commitment_cost")
NOTEBOOK_02_VARIANT = (
    *("num_embeddings", "embedding_dim", "init", "dead_code_steps", "code_perplexity"),
    *("codebook_usage", "reconstruction_mse", "dead_codes_restarted", "train_seconds"),
)


def _vectors(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, 4)).astype(np.float32)


def test_the_sweep_fits_and_measures_a_fresh_layer_per_size():
    train, validation = _vectors(200, 0), _vectors(50, 1)
    sweep = patch_study.codebook_size_sweep(train, validation, [8, 4], 5, **OPTIONS)
    assert [row["num_embeddings"] for row in sweep] == [8, 4]  # in the order given
    assert {row["variant"] for row in sweep} == {"VectorQuantizerEMA"}
    # each row is what fitting and measuring that layer by hand gives
    layer = quantizer.VectorQuantizerEMA(4, 4, 0.25, seed=3)
    quantizer.fit_to_vectors(layer, train, 5, batch_size=32, learning_rate=1e-2, seed=3)
    health = metrics.codebook_health(layer, validation)
    del health["counts"]
    assert sweep[1] == {"variant": "VectorQuantizerEMA", "num_embeddings": 4, **health}

    plain = patch_study.codebook_size_sweep(
        train, validation, [4], 5, layer_class=quantizer.VectorQuantizer, **OPTIONS
    )
    assert plain[0]["variant"] == "VectorQuantizer" and 0 < plain[0]["codebook_usage"] <= 1


def test_the_summary_holds_notebook_02s_keys_from_the_fitted_variants():
    train, validation = _vectors(200, 0), _vectors(50, 1)
    variants = {
        "standard": quantizer.VectorQuantizer(4, 4, init=None, dead_code_steps=None, seed=3),
        "ema": quantizer.VectorQuantizerEMA(4, 4, seed=3),
    }
    fit = {key: OPTIONS[key] for key in ("batch_size", "learning_rate", "seed")}
    histories = {
        name: quantizer.fit_to_vectors(layer, train, 5, **fit) for name, layer in variants.items()
    }
    healths = {name: metrics.codebook_health(layer, validation) for name, layer in variants.items()}
    sweep = [{"variant": "VectorQuantizerEMA", "num_embeddings": 4}]
    settings = {"steps": 5, "batch_size": 32, "patch_size": 2, "commitment_cost": 0.25}
    summary = patch_study.summary(
        variants, histories, healths, sweep, train, validation, **settings
    )
    assert list(summary) == [
        *variants,
        *NOTEBOOK_02_SETTINGS,
        *("train_patches", "validation_patches", "size_sweep"),
    ]
    assert list(summary["standard"]) == list(NOTEBOOK_02_VARIANT)
    assert summary["standard"]["init"] is None and summary["ema"]["init"] == "kmeans++"
    assert summary["ema"]["dead_code_steps"] == quantizer.DEFAULT_DEAD_CODE_STEPS
    assert summary["ema"]["train_seconds"] == histories["ema"]["seconds"]
    assert summary["ema"]["code_perplexity"] == healths["ema"]["code_perplexity"]
    assert summary["ema"]["dead_codes_restarted"] == variants["ema"].dead_codes_restarted
    assert (summary["train_patches"], summary["validation_patches"]) == (200, 50)
    assert summary["size_sweep"] is sweep and summary["patch_size"] == 2
