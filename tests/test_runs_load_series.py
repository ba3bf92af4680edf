"""runs.load_series: what notebooks 04 and 05 read from earlier notebooks, on a tiny run folder
(a PNG layout of 32x32 slices, an untrained tiny VQ-VAE, its codes and a tiny prior)."""

from __future__ import annotations

import shutil

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import code_grids, data, models, prior, runs


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``(run_dir, data_dir)``: notebook 03's codes and VQ-VAE and notebook 04's prior of a
    PNG data set, as the notebooks save them."""
    root = tmp_path_factory.mktemp("series")
    data_dir = fx.write_png_layout(root / "data", slices=2, masks=False)
    source = data.load_slices(data_dir, image_size=32, seed=0, with_masks=False)
    run_dir = root / "run"
    vqvae = models.make_vqvae(**fx.TINY_VQVAE)
    code_grids.save_codes(run_dir / "03_train_vqvae" / code_grids.CODES_FILE, vqvae, source)
    runs.save_model(vqvae, run_dir / "03_train_vqvae" / models.VQVAE_FILE)
    model = fx.tiny_prior(conditional=True)
    model((fx.random_codes(1, 8, 8), np.full(1, 0.5, np.float32)))  # build it to save it
    runs.save_model(model, run_dir / "04_pixelcnn_prior" / prior.PRIOR_FILE)
    return run_dir, data_dir


def test_notebook_05_gets_the_codes_both_models_and_the_matching_slices(run):
    run_dir, data_dir = run
    earlier = runs.load_series(run_dir, "05", data_dir=data_dir, seed=0, image_size=32)
    grids, vqvae, model, source = earlier  # a NamedTuple: the notebooks unpack it
    assert isinstance(vqvae, models.VQVAE) and isinstance(model, prior.GatedPixelCNN)
    assert model.conditional and model.num_embeddings == fx.PRIOR_CODES
    assert {name: len(split) for name, split in source.splits.items()} == {
        name: len(split) for name, split in grids.splits.items()
    }
    test = source.splits["test"]
    # the VQ-VAE is notebook 03's: it gives the codes that notebook 03 saved for these slices
    np.testing.assert_array_equal(
        vqvae.encode(test.float_images(np.arange(len(test)))), grids["test"].codes
    )
    # without an image_size, notebook 03's; notebook 04 gets no prior
    for_04 = runs.load_series(run_dir, "04_pixelcnn_prior", data_dir=data_dir, seed=0)
    assert for_04.prior is None and for_04.grids.image_size == 32


def test_missing_artifacts_say_which_notebooks_to_run_first(run, tmp_path):
    run_dir, data_dir = run
    with pytest.raises(FileNotFoundError) as caught:
        runs.load_series(tmp_path, "04", data_dir=data_dir, seed=0)
    assert str(caught.value).startswith(
        "notebook 04 needs notebook 03's model and codes: run notebooks/03_train_vqvae.ipynb "
        f"first with run_dir={tmp_path}. ("
    )
    partial = tmp_path / "partial"
    shutil.copytree(run_dir / "03_train_vqvae", partial / "03_train_vqvae")
    assert runs.load_series(partial, "04", data_dir=data_dir, seed=0).vqvae is not None
    with pytest.raises(FileNotFoundError) as caught:
        runs.load_series(partial, "05", data_dir=data_dir, seed=0)
    message = str(caught.value)
    assert message.startswith(
        "notebook 05 needs notebook 03's VQ-VAE and codes and notebook 04's prior: run "
        "notebooks/03_train_vqvae.ipynb and then notebooks/04_pixelcnn_prior.ipynb first "
        f"with run_dir={partial}."
    )
    assert prior.PRIOR_FILE in message  # the file that is missing


def test_another_image_size_or_other_slices_are_refused_with_the_fix(run, tmp_path):
    run_dir, data_dir = run
    with pytest.raises(ValueError, match="image_size=64 but notebook 03 made its codes at 32: use"):
        runs.load_series(run_dir, "05", data_dir=data_dir, seed=0, image_size=64)
    fewer = fx.write_png_layout(tmp_path / "other", slices=1, masks=False)
    with pytest.raises(ValueError, match="the slices do not match notebook 03's codes") as caught:
        runs.load_series(run_dir, "05", data_dir=fewer, seed=0)
    assert "same data_dir, image_size, seed and smoke" in str(caught.value)
    for upto in ("03", "06", "0"):
        with pytest.raises(ValueError, match="upto must name a notebook"):
            runs.load_series(run_dir, upto, data_dir=data_dir, seed=0)
