"""The code grids file ``codes.npz``: save_codes and load_codes.

A tiny trained VQ-VAE (the ``trained`` fixture of tests/conftest.py) encodes a
SliceSource look-alike of 32x32 slices (tests/oasis_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import code_grids


def test_save_and_load_codes(tmp_path, trained, images):
    model, _ = trained
    source = fx.fake_source(images)
    path = tmp_path / "03_train_vqvae" / code_grids.CODES_FILE
    written = code_grids.save_codes(path, model, source, batch_size=2)
    assert path.exists() and not list(path.parent.glob("*.partial*"))
    grids = code_grids.load_codes(tmp_path)
    assert isinstance(grids, code_grids.CodeGrids)
    assert list(grids.splits) == ["train", "test"]
    assert (grids.num_embeddings, grids.embedding_dim) == (16, 4)
    assert (grids.downsample, grids.image_size, grids.code_size) == (4, 32, 8)
    train = grids["train"]
    assert train.codes.shape == (5, 8, 8) and train.codes.dtype == np.int32
    np.testing.assert_array_equal(train.codes, model.encode(images[:5]))
    np.testing.assert_array_equal(train.subject_ids, ["a", "a", "b", "a", "c"])
    np.testing.assert_array_equal(train.slice_ids, [4, 2, 7, 3, 9])
    np.testing.assert_allclose(train.slice_heights, [1.0, 0.0, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(grids["test"].slice_heights, [1.0, 0.0, 0.5])
    assert grids["test"].slice_heights.dtype == np.float32
    np.testing.assert_array_equal(written["test"].codes, grids["test"].codes)
    with pytest.raises(KeyError, match="validate"):
        grids["validate"]
    # uint8 slices (how the data package stores them) give the same codes as float ones
    code_grids.save_codes(path, model, fx.fake_source(images, uint8=True))
    reread = code_grids.load_codes(tmp_path)
    quantised_images = np.round(images[:5] * 255).astype(np.float32) / 255
    np.testing.assert_array_equal(reread["train"].codes, model.encode(quantised_images))


def test_load_codes_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebooks/03_train_vqvae.ipynb first"):
        code_grids.load_codes(tmp_path)
    folder = tmp_path / "03_train_vqvae"
    folder.mkdir()
    np.savez(folder / code_grids.CODES_FILE, train_codes=np.zeros((1, 2, 2), np.int32))
    with pytest.raises(ValueError, match="no array 'splits'.*save_codes"):
        code_grids.load_codes(tmp_path)
    np.savez(folder / code_grids.CODES_FILE, splits=["train"], train_codes=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="train_subject_ids"):
        code_grids.load_codes(tmp_path)
