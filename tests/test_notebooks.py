"""Execute every notebook in ``notebooks/`` headless (papermill), in order, in smoke mode.

All notebooks share one temporary ``run_dir``, as in ``make run``, so notebook N
finds the artifacts of notebooks 1..N-1. A notebook added later joins this test
automatically; the keys listed below are the contract of the known ones.
"""

from __future__ import annotations

import json

import pytest

from oasis_helpers import series

REQUIRED_METRICS = {
    "01_data_loader": {
        "layout",
        "counts",
        "subjects",
        "image_size",
        "intensity_min",
        "intensity_max",
        "has_masks",
    },
    "02_vector_quantizer": {"standard", "ema"},
    "03_train_vqvae": {
        "ssim_test",
        "ssim_brain_test",
        "psnr_test",
        "perplexity",
        "codebook_usage",
        "epochs",
        "train_seconds",
        "train_images_per_second",
        "num_embeddings",
        "embedding_dim",
        "downsample",
        "bits_per_slice",
    },
}

NOTEBOOKS = series.notebook_paths()


@pytest.fixture(scope="module")
def shared_run_dir(tmp_path_factory):
    series.ensure_kernel()
    return tmp_path_factory.mktemp("runs") / "smoke"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_headless(notebook, shared_run_dir):
    executed = series.run_notebook(notebook, shared_run_dir, {"smoke": True})
    assert executed.exists()

    metrics_path = shared_run_dir / notebook.stem / "metrics.json"
    assert metrics_path.exists(), f"{notebook.name} did not write {metrics_path}"
    metrics = json.loads(metrics_path.read_text())
    missing = REQUIRED_METRICS.get(notebook.stem, set()) - set(metrics)
    assert not missing, f"{notebook.name} metrics.json lacks {sorted(missing)}"
    _check_values(notebook.stem, metrics)


def _check_values(stem: str, metrics: dict) -> None:
    """Sanity of the values, beyond the keys: what each notebook measured must make sense."""
    if stem == "01_data_loader":
        assert metrics["layout"] == "demo"
        assert all(metrics["counts"][split] > 0 for split in ("train", "validate", "test"))
        assert 0.0 <= metrics["intensity_min"] < metrics["intensity_max"] <= 1.0
    elif stem == "02_vector_quantizer":
        for variant in ("standard", "ema"):
            usage = metrics[variant]["codebook_usage"]
            assert 0.0 < usage <= 1.0
            assert 1.0 <= metrics[variant]["perplexity"] <= metrics[variant]["num_embeddings"]
    elif stem == "03_train_vqvae":
        assert -1.0 <= metrics["ssim_test"] <= 1.0
        assert metrics["psnr_test"] > 0
        assert metrics["bits_per_slice"] > 0
