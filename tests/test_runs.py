"""Run bookkeeping (:mod:`oasis_helpers.runs`): seeding and the one atomic writer that
every file written whole goes through."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import callbacks, code_grids, data, demo, models, prior, runs, training


def test_seed_everything_seeds_python_numpy_and_tensorflow(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("PYTHONHASHSEED", raising=False)

    def draws():
        # NumPy's legacy global generator is the one seed_everything seeds
        numpy_draw = float(np.random.random())  # noqa: NPY002
        return random.random(), numpy_draw, float(tf.random.uniform(()))

    runs.seed_everything(3)
    first = draws()
    runs.seed_everything(3)
    assert draws() == first
    runs.seed_everything(4)
    assert all(a != b for a, b in zip(draws(), first, strict=True))
    # string hashing is fixed at interpreter start: seed_everything does not pretend otherwise
    assert "PYTHONHASHSEED" not in os.environ


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("previous")
    with pytest.raises(RuntimeError, match="mid-write"):
        with runs.atomic_replacement(path) as temporary:
            assert temporary.parent == path.parent and temporary.suffix == ".json"
            temporary.write_text("half a fi")
            raise RuntimeError("mid-write")
    assert path.read_text() == "previous"
    assert [item.name for item in tmp_path.iterdir()] == ["report.json"]

    runs.write_atomically(path, "new")
    assert path.read_text() == "new"
    runs.write_atomically(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    assert [item.name for item in tmp_path.iterdir()] == ["report.json"]


def test_the_package_has_one_atomic_writer():
    assert callbacks.write_atomically is runs.write_atomically
    for module in (training.configuration, training.fitting, training.run_files):
        assert module.write_atomically is runs.write_atomically


def _tiny_keras_model():
    import keras

    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def _code_writer(path: Path) -> None:
    """code_grids.save_codes with a stand-in model (encode returns zeros) and two splits."""
    model = SimpleNamespace(
        num_embeddings=4,
        embedding_dim=2,
        downsample=4,
        image_size=8,
        code_size=2,
        encode=lambda batch, batch_size: np.zeros((len(batch), 2, 2), np.int32),
    )
    split = SimpleNamespace(
        images=np.zeros((3, 8, 8, 1), np.float32),
        subject_ids=np.array(["a", "a", "b"]),
        slice_ids=np.array([0, 1, 0], np.int32),
    )
    code_grids.save_codes(path, model, SimpleNamespace(splits={"train": split, "test": split}))


def _demo_cache_writer(path: Path) -> None:
    arrays = {split: np.zeros((1, 4, 4), np.uint8) for split in demo.SPLITS}
    cohort = demo.DemoCohort(
        config=demo.demo_config(image_size=64, smoke=True),
        images=arrays,
        masks=arrays,
        subject_ids={split: np.array(["demo000"]) for split in demo.SPLITS},
        slice_ids={split: np.zeros(1, np.int32) for split in demo.SPLITS},
        seconds=0.0,
        from_cache=False,
        path=path,
    )
    demo.write_cache(path, cohort)


#: Every writer of a whole file in the package: (file name, how it writes the file).
WRITERS = {
    "write_json": ("report.json", lambda path: runs.write_json(path, {"new": 1})),
    "write_metrics": (
        "metrics.json",
        lambda path: runs.write_metrics(path.parent.parent, path.parent.name, {"new": 1}),
    ),
    "training_state": ("state.json", lambda path: runs.write_atomically(path, "{}\n")),
    "csv_log": ("log.csv", lambda path: callbacks.write_log_rows(path, {0: {"loss": "1"}})),
    "save_model": ("model.keras", lambda path: runs.save_model(_tiny_keras_model(), path)),
    "save_codes": ("codes.npz", _code_writer),
    "demo_cache": ("demo-0123.npz", _demo_cache_writer),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_writer_leaves_the_previous_file_whole_when_its_write_fails(
    writer, tmp_path, monkeypatch
):
    """The flush of the new file fails (a full disk, say): the previous file is still
    there, byte for byte, with no temporary beside it; without the failure the writer
    replaces it and leaves nothing else."""
    name, write = WRITERS[writer]
    folder = tmp_path / "run" / "03_train_vqvae"
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(b"previous")
    flush = runs.sync_to_disk

    def failing_flush(target):
        if ".partial-" in Path(target).name:
            raise OSError("No space left on device (simulated)")
        flush(target)

    monkeypatch.setattr(runs, "sync_to_disk", failing_flush)
    with pytest.raises(OSError, match="No space left"):
        write(path)
    assert path.read_bytes() == b"previous"
    assert [item.name for item in folder.iterdir()] == [name]

    monkeypatch.setattr(runs, "sync_to_disk", flush)
    write(path)
    assert path.read_bytes() != b"previous"
    assert [item.name for item in folder.iterdir()] == [name]
    if name.endswith(".json"):
        assert json.loads(path.read_text()) in ({"new": 1}, {})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``(run_dir, data_dir)``: notebook 03's codes and VQ-VAE and notebook 04's prior of a
    PNG data set, as the notebooks save them."""
    root = tmp_path_factory.mktemp("series")
    data_dir = fx.write_png_layout(root / "data", slices=2, masks=True)
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
    assert for_04.source.splits["train"].masks is None  # the images only, unless asked
    with_masks = runs.load_series(run_dir, "04", data_dir=data_dir, seed=0, with_masks=True)
    train = with_masks.source.splits["train"]
    assert train.masks is not None and train.masks.shape == train.pixels.shape[:3]


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


def test_describe_machine_names_the_cpu_and_the_kernel_choice(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    machine = runs.describe_machine()
    assert machine["TF_ENABLE_ONEDNN_OPTS"] == "0" and machine["cpu_count"] == os.cpu_count()
    assert machine["cpu_model"] == runs.cpu_model() and machine["cpu_model"]
    assert len(machine["load_average_at_start"]) == 3
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert runs.describe_machine()["TF_ENABLE_ONEDNN_OPTS"] == "(unset)"
