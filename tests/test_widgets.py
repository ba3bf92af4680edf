"""The widget driver of the notebook tests finds what ipywidgets would swallow; the package's
widgets do what their controls say."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import oasis_fixtures as fx
import papermill
import pytest

from oasis_helpers import anomaly, prior, series, widgets

DRIVER = Path(__file__).with_name("widget_driver.py")

BROKEN_WIDGETS = """
import ipywidgets as widgets
from IPython.display import display

output = widgets.Output()
button = widgets.Button(description="Broken")
slider = widgets.IntSlider(min=0, max=10, value=5)
picker = widgets.Dropdown(options=[1, 2, 3], value=1)


def on_click(_):
    with output:  # ipywidgets shows this error and carries on
        raise ValueError("button callback is broken")


def on_pick(change):
    if change["new"] == 3:
        raise KeyError("dropdown observer is broken for its last value")


button.on_click(on_click)
picker.observe(on_pick, names="value")
display(widgets.VBox([button, slider, picker, output]))
"""


def _notebook_with_driver(path: Path, widget_source: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(widget_source),
        nbformat.v4.new_code_cell(DRIVER.read_text() + "\n\ndrive_widgets()\n"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_driver_fails_on_callbacks_that_ipywidgets_swallows(tmp_path):
    series.ensure_kernel()
    notebook = _notebook_with_driver(tmp_path / "00_widgets.ipynb", BROKEN_WIDGETS)
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        series.run_notebook(notebook, tmp_path / "runs")
    assert caught.value.ename == "RuntimeError"
    assert "2 widget callback(s) raised" in caught.value.evalue
    executed = tmp_path / "runs" / "00_widgets" / "00_widgets.ipynb"
    printed = "".join(
        output.get("text", "")
        for output in nbformat.read(executed, as_version=4).cells[-1].outputs
        if output.output_type == "stream"
    )
    assert "button callback is broken" in str(caught.value) + printed
    assert "dropdown observer is broken" in str(caught.value) + printed
    assert '"Button": 1' in printed and '"Dropdown": 1' in printed and '"IntSlider": 1' in printed


def test_vqvae_trainer_trains_the_chosen_variant_in_a_folder_of_its_own(tmp_path):
    """Notebook 03's "Try it": Train builds the chosen K / D / beta, trains it with the
    notebook's settings in that configuration's folder, and shows what it learnt."""
    import tensorflow as tf

    from oasis_helpers import training, widgets

    images = np.random.default_rng(0).uniform(0, 1, (4, 16, 16, 1)).astype(np.float32)
    model_config = {"image_size": 16, "channels": (4, 4), "num_residual_blocks": 1}
    model_config.update(residual_channels=4, num_embeddings=8, embedding_dim=4)
    settings = {"seed": 0, "epochs": 1, "steps_per_epoch": 2, "batch_size": 2}
    settings.update(learning_rate=1e-3, max_train_minutes=None)
    train_data = tf.data.Dataset.from_tensor_slices(images).batch(2).repeat()
    strategy = tf.distribute.get_strategy()
    box = widgets.vqvae_trainer(model_config, settings, train_data, strategy, tmp_path, images)
    (size_picker, dim_picker), (beta_slider, minutes_slider) = (
        row.children for row in box.children[:2]
    )
    button, caption, pictures = box.children[2:]
    assert (size_picker.value, dim_picker.value, beta_slider.value) == (8, 4, 0.25)

    size_picker.value, beta_slider.value = 32, 0.5
    # the widget trains for at most the slider's minutes: the most it allows, so that a
    # loaded machine still finishes the one epoch the settings ask for
    minutes_slider.value = minutes_slider.max
    button.click()
    config = dict(model_config, num_embeddings=32, embedding_dim=4, commitment_cost=0.5)
    folder = training.config_run_dir(tmp_path, config, settings)
    assert training.read_history(folder)["loss"], "the variant was not trained in its folder"
    assert caption.value.startswith(f"1 epochs in {folder.name}: SSIM ")
    assert "on 4 test slices" in caption.value and f"{4 * 4 * 5:,} bits per slice" in caption.value
    assert all(bytes(picture.value).startswith(b"\x89PNG") for picture in pictures.children)


def test_size_sweeper_fits_the_picked_sizes_and_layer_with_the_notebooks_options():
    """Notebook 02's sweep widget: Fit sweep makes the notebook's own call with the picks."""
    from oasis_helpers import patch_study, quantizer, widgets

    rng = np.random.default_rng(0)
    train, validation = (rng.uniform(0, 1, (count, 4)).astype(np.float32) for count in (200, 50))
    options = {"commitment_cost": 0.25, "batch_size": 32, "learning_rate": 1e-2, "seed": 1}
    box = widgets.size_sweeper(train, validation, [4], 10, **options)
    (size_picker, layer_picker, steps_picker), button, caption, picture = (
        box.children[0].children,
        *box.children[1:],
    )
    assert (size_picker.value, steps_picker.value) == ((4,), 10)

    size_picker.value, layer_picker.value, steps_picker.value = (8, 4), "VectorQuantizer", 20
    button.click()
    expected = patch_study.codebook_size_sweep(
        train, validation, [4, 8], 20, layer_class=quantizer.VectorQuantizer, **options
    )
    assert caption.value.startswith("VectorQuantizer, 20 steps: K = 4: usage ")
    for row in expected:
        assert f"perplexity {row['code_perplexity']:.1f}, MSE {row['reconstruction_mse']:.5f}" in (
            caption.value
        )
    assert bytes(picture.value).startswith(b"\x89PNG")

    size_picker.value = ()
    button.click()
    assert caption.value == "pick at least one size"


@pytest.mark.usefixtures("close_figures", "private_demo_cache")
def test_the_slice_browser_follows_its_split_subject_and_slice_controls():
    from oasis_helpers import data, widgets

    source = data.load_slices(None, image_size=32, **fx.TINY_DEMO)
    browser = widgets.slice_browser(source, split="validate")
    controls, subject_slider, slice_slider = browser.children[:3]
    assert controls.children[0].value == "validate"
    assert slice_slider.max == fx.TINY_DEMO["slices_per_subject"] - 1
    controls.children[0].value = "train"
    assert subject_slider.max == 1
    subject_slider.value = 1
    assert "demo001" in browser.children[4].value
    assert browser.children[3].value[:8] == b"\x89PNG\r\n\x1a\n"


class _RecordingVQVAE(fx.BlockVQVAE):
    """The block-mean stand-in VQ-VAE, remembering every code grid it decodes."""

    def __init__(self):
        self.decoded = []

    def decode(self, codes):
        self.decoded.append(np.asarray(codes))
        return super().decode(codes)


@pytest.mark.parametrize("conditional", [False, True])
def test_prior_sampler_draws_at_the_chosen_temperature_and_height(conditional):
    model, vqvae = fx.peaked_prior(conditional=conditional), _RecordingVQVAE()
    box = widgets.prior_sampler(model, vqvae, 4, temperature=1.3, top_k=3, seed=7)
    (temperature_slider, height_slider, button), picture = box.children[0].children, box.children[1]
    assert height_slider.disabled is not conditional
    height = 0.5 if conditional else None
    first = prior.sample_codes(model, 1, 4, 4, height, temperature=1.3, top_k=3, seed=108)
    np.testing.assert_array_equal(vqvae.decoded[-1], first)  # drawn when built
    assert bytes(picture.value).startswith(b"\x89PNG")

    temperature_slider.value, height_slider.value = 0.5, 0.9
    button.click()
    height = 0.9 if conditional else None
    second = prior.sample_codes(model, 1, 4, 4, height, temperature=0.5, top_k=3, seed=109)
    np.testing.assert_array_equal(vqvae.decoded[-1], second)
    assert len(vqvae.decoded) == 2


def test_threshold_explorer_colours_what_the_threshold_finds_and_gives_its_dice(monkeypatch):
    drawn = []  # (picture, title) of every draw

    def record(picture, title):
        drawn.append((picture, title))
        return b"\x89PNG"

    monkeypatch.setattr(widgets, "render_png", record)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    masks = np.zeros((3, 8, 8), bool)
    masks[1, 2:5, 2:5] = True
    region = np.ones((3, 8, 8), bool)
    region[:, 0] = False
    maps = SimpleNamespace(
        maps={method: rng.uniform(0, 1, (3, 8, 8)) for method in anomaly.METHODS}, region=region
    )
    values = maps.maps["reconstruction"] = np.full((3, 8, 8), 0.2)
    values[1, 2:4, 2:5] = 0.9  # the lesion's upper two rows
    values[1, 6, 6] = 0.95  # a false alarm, and the largest value
    box = widgets.threshold_explorer(images, masks, maps, start_index=1)
    method_picker, threshold_slider, slice_picker = box.children[0].children
    colour, title = drawn[-1]
    # threshold 0.5 of the largest value: 6 of the 9 lesion pixels found, one false alarm
    assert (
        title
        == f"reconstruction: Dice {2 * 6 / (7 + 9):.3f} on this slice, {2 * 6 / 16:.3f} on all"
    )
    assert np.allclose(colour[2:4, 2:5], widgets.FOUND_COLOUR)
    assert np.allclose(colour[4, 2:5], widgets.MISSED_COLOUR)
    assert np.allclose(colour[6, 6], widgets.FALSE_ALARM_COLOUR)
    assert np.allclose(colour[7, 7], images[1, 7, 7, 0])

    threshold_slider.value = 0.0  # everything in the region is predicted a lesion
    colour, title = drawn[-1]
    assert title.endswith(f"{anomaly.dice_at_threshold(values, masks, 0.0, region):.3f} on all")
    assert np.allclose(colour[masks[1]], widgets.FOUND_COLOUR)
    assert np.allclose(colour[region[1] & ~masks[1]], widgets.FALSE_ALARM_COLOUR)
    gray = images[1, ..., 0][~region[1]]  # outside the region: the slice itself
    np.testing.assert_allclose(colour[~region[1]], np.repeat(gray[:, None], 3, axis=1))

    method_picker.value, slice_picker.value = "restoration", 0
    assert drawn[-1][1].startswith("restoration: Dice 0.000 on this slice")  # no lesion there
