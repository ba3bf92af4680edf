"""plots.diagrams: the four diagrams of the series are clean at notebook width, show their key
elements, and say about the package only what the package does."""

from __future__ import annotations

import inspect
import itertools
import json
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest

from oasis_helpers import plots
from oasis_helpers.plots import diagram_kit, diagrams

pytestmark = pytest.mark.usefixtures("close_figures")

ROOT = Path(__file__).resolve().parents[1]


def _texts(figure) -> list[str]:
    return [text.get_text() for text in figure.findobj(matplotlib.text.Text) if text.get_text()]


def _joined(figure) -> str:
    return "\n".join(_texts(figure))


def _overlap(first, second, margin: float = 1.0) -> bool:
    """Whether two display boxes overlap by more than ``margin`` pixels each way."""
    return (
        first.x0 + margin < second.x1
        and second.x0 + margin < first.x1
        and first.y0 + margin < second.y1
        and second.y0 + margin < first.y1
    )


def _layout_problems(figure) -> list[str]:
    """Small fonts, texts that overlap or leave the figure, box texts outside their box, and
    free texts over a box."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [text for text in figure.findobj(matplotlib.text.Text) if text.get_text().strip()]
    extents = {id(text): text.get_window_extent(renderer) for text in texts}
    boxes = {patch.get_gid(): patch.get_window_extent(renderer) for patch in figure.axes[0].patches}
    boxes = {gid: extent for gid, extent in boxes.items() if gid and ":" in gid}
    boxes = {gid: extent for gid, extent in boxes.items() if not gid.startswith("arrow")}
    frame = figure.bbox
    problems = []
    for text in texts:
        extent, words = extents[id(text)], repr(text.get_text())
        if text.get_fontsize() < diagram_kit.MIN_FONT_SIZE:
            problems.append(f"{text.get_fontsize()} pt: {words}")
        if not (frame.x0 <= extent.x0 and extent.x1 <= frame.x1 + 0.5):
            problems.append(f"leaves the figure: {words}")
        if not (frame.y0 <= extent.y0 and extent.y1 <= frame.y1 + 0.5):
            problems.append(f"leaves the figure: {words}")
        gid = text.get_gid() or ""
        if gid.endswith(":text"):
            box = boxes[gid.removesuffix(":text")]
            inside = box.x0 + 2 <= extent.x0 and extent.x1 <= box.x1 - 2
            if not (inside and box.y0 + 1 <= extent.y0 and extent.y1 <= box.y1 - 1):
                problems.append(f"leaves its box: {words}")
        elif any(_overlap(extent, box) for box in boxes.values()):
            problems.append(f"over a box: {words}")
    for first, second in itertools.combinations(texts, 2):
        if _overlap(extents[id(first)], extents[id(second)]):
            problems.append(f"overlap: {first.get_text()!r} and {second.get_text()!r}")
    return problems


def _notebook_code(stem: str) -> str:
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return "\n".join("".join(cell["source"]) for cell in cells)


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_every_diagram_is_900_pixels_wide_with_readable_text_that_nothing_hides(name):
    figure = diagrams.DIAGRAMS[name]()
    assert figure.get_figwidth() * diagram_kit.DPI == 900
    assert _layout_problems(figure) == []


def test_the_layout_check_finds_small_overlapping_and_escaping_text():
    figure = diagrams.draw_roadmap()
    axis = figure.axes[0]
    title = next(text for text in figure.axes[0].texts if text.get_text() == "01 · data loader")
    axis.text(*title.get_position(), "01 · data loader", size=8)  # small, on the first title
    axis.text(diagram_kit.WIDTH - 0.1, 0.2, "past the edge")
    diagram_kit.box(axis, (7.0, 0.05, 0.4, 0.3), "too long for its box")
    problems = "\n".join(_layout_problems(figure))
    assert "8.0 pt: '01 · data loader'" in problems
    assert "leaves its box: 'too long for its box'" in problems
    assert "over a box: '01 · data loader'" in problems
    assert "overlap: '01 · data loader'" in problems
    assert "leaves the figure: 'past the edge'" in problems


def test_plots_reexports_the_diagrams():
    for name in ["draw_roadmap", "draw_vqvae_gradients", "draw_gated_block", "save_diagrams"]:
        assert getattr(plots, name) is getattr(diagrams, name)
    assert plots.draw_restoration_pipeline is diagrams.draw_restoration_pipeline
    assert plots.DIAGRAMS is diagrams.DIAGRAMS


def test_roadmap_shows_every_notebook_and_the_files_that_pass_between_them():
    from oasis_helpers import runs

    text = _joined(diagrams.draw_roadmap())
    assert [step["stem"] for step in diagrams.ROADMAP] == list(runs.NOTEBOOK_STEMS)
    for step in diagrams.ROADMAP:
        assert step["title"] in text
        assert step["purpose"] in text
    for name in ["vqvae.keras", "codes.npz", "prior.keras", "samples.npz", "blind_spot.keras"]:
        assert name in text
    assert text.count("metrics.json") == len(runs.NOTEBOOK_STEMS)  # every notebook writes one
    assert "runs/<run>/NN_name/" in text


def test_the_files_of_the_roadmap_are_those_the_notebooks_write_and_read():
    from oasis_helpers import blind_spot, code_grids

    assert code_grids.CODES_FILE == "codes.npz"
    assert f"{blind_spot.MODEL_DIR}/<hash>/{blind_spot.MODEL_FILE}" == (
        "blind_spot/<hash>/blind_spot.keras"
    )
    evidence = {  # what a notebook's code holds when it writes the file
        "vqvae.keras": "models.VQVAE_FILE",
        "prior.keras": "prior.PRIOR_FILE",
        "codes.npz": "code_grids.CODES_FILE",
        "training/<hash>/": 'out_dir / "training"',
        "blind_spot/<hash>/blind_spot.keras": "blind_spot.train_or_load(",
    }
    for step in diagrams.ROADMAP:
        code = _notebook_code(step["stem"])
        assert f'runs.write_metrics(run_dir, "{step["stem"]}"' in code
        for name in step["writes"]:
            if name.endswith((".keras", ".npz", "/")):
                assert evidence.get(name, name) in code, (step["stem"], name)
    # on the arrows: what the next notebook reads, through runs.load_series (which reads
    # each file by its constant) or the file's own reader
    from oasis_helpers import models, prior, runs

    assert (models.VQVAE_FILE, prior.PRIOR_FILE) == ("vqvae.keras", "prior.keras")
    series_reader = inspect.getsource(runs.load_series)
    readers = {
        "vqvae.keras": ("models.VQVAE_FILE", "VQVAE_FILE"),
        "prior.keras": ("prior.PRIOR_FILE", "PRIOR_FILE"),
        "codes.npz": ("code_grids.load_codes(", "load_codes("),
    }
    for step, following in zip(diagrams.ROADMAP, diagrams.ROADMAP[1:], strict=False):
        code = _notebook_code(following["stem"])
        for name in step["passed_files"]:
            assert name in step["passes_on"]
            direct, inside_reader = readers[name]
            through_series = "runs.load_series(" in code and inside_reader in series_reader
            assert direct in code or through_series, (following["stem"], name)
    assert diagrams.ROADMAP[2]["passed_files"] and diagrams.ROADMAP[3]["passed_files"]


def test_vqvae_gradients_shows_forward_and_gradient_paths_straight_through_and_the_losses():
    figure = diagrams.draw_vqvae_gradients()
    text = _joined(figure)
    for element in [
        "straight-through",
        r"z_q = z_e + \mathrm{sg}[z_q - z_e]",  # the quantizer's output
        "stop-gradient",
        "reconstruction_loss",
        r"\mathrm{mean}((\mathrm{sg}[z_e] - e_k)^2)",  # codebook_loss
        r"\beta\ \mathrm{mean}((z_e - \mathrm{sg}[e_k])^2)",  # commitment_loss
        "codebook_loss",
        "commitment_loss",
        "EMA",
        "argmin",
        "encoder",
        "decoder",
    ]:
        assert element in text, element
    arrows = [patch.get_gid() for patch in figure.axes[0].patches]
    # forward chain and x_hat to the loss, the gradient back along it, straight-through, both
    # quantizer losses, and one line sample of each style in the legend
    assert arrows.count("arrow:forward") == 6 + 1 + 1 + 1
    assert arrows.count("arrow:gradient") == 3 + 1 + 1 + 2 + 1
    assert arrows.count("arrow:update") == 1 + 1


def test_the_gradients_drawn_are_the_quantizers():
    """The straight-through output passes the gradient to z_e unchanged; codebook_loss has
    no gradient for z_e and commitment_loss none for the codes: what the diagram draws."""
    import tensorflow as tf

    from oasis_helpers import quantizer

    layer = quantizer.VectorQuantizer(8, 2, init=None, dead_code_steps=None, seed=0)
    inputs = tf.Variable(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    weights = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
    with tf.GradientTape(persistent=True) as tape:
        outputs, losses = layer(inputs, training=True, return_losses=True)
        downstream = tf.reduce_sum(outputs * weights)
    np.testing.assert_allclose(tape.gradient(downstream, inputs), weights)  # copied to z_e
    assert tape.gradient(losses["codebook_loss"], inputs) is None
    assert tape.gradient(losses["commitment_loss"], layer.embeddings) is None
    assert tape.gradient(losses["codebook_loss"], layer.embeddings) is not None
    ema = quantizer.VectorQuantizerEMA(8, 2, init=None, dead_code_steps=None, seed=0)
    assert set(ema(inputs, training=True, return_losses=True)[1]) == {"commitment_loss"}
    assert "inputs32 + tf.stop_gradient(quantized - inputs32)" in inspect.getsource(
        quantizer.VectorQuantizer.call
    )


def test_gated_block_names_every_layer_and_shift_of_the_package():
    from oasis_helpers.prior import model as prior_model

    text = _joined(diagrams.draw_gated_block())
    block = prior_model.GatedBlock(4, conditional=True)
    layers = [block.vertical_conv, block.horizontal_conv, block.link, block.horizontal_output]
    layers += [block.vertical_bias, block.horizontal_bias]
    for layer in layers:
        assert layer.name in text, layer.name
    model = prior_model.GatedPixelCNN(num_embeddings=8, hidden_channels=4, num_layers=1)
    for layer in [model.position_hidden, model.position_features]:
        assert layer.name in text, layer.name
    for shift in ["down_shift", "right_shift"]:
        assert hasattr(prior_model, f"_{shift}")
        assert shift in text
    for element in ["tanh", r"\odot", r"\sigma", "residual", "dilation", "Fourier", "height"]:
        assert element in text, element


def test_the_receptive_field_drawn_is_that_of_block_1():
    """Perturb one code of either stack's input at a time: the horizontal output of block 1
    at the centre changes exactly for the positions of ``BLOCK_1_FIELD``."""
    import keras

    from oasis_helpers.prior import model as prior_model

    keras.utils.set_random_seed(0)
    block = prior_model.GatedBlock(3, kernel_size=3, first=True, dilation=1)
    size, centre = 7, 3
    base = np.random.default_rng(0).normal(size=(1, size, size, 3)).astype(np.float32)
    seen = {"vertical": set(), "horizontal": set()}
    reference = block(base, base)[1][0, centre, centre]
    for stack, (row, column) in itertools.product(seen, np.ndindex(size, size)):
        changed = {"vertical": base.copy(), "horizontal": base.copy()}
        changed[stack][0, row, column] += 1.0
        output = block(changed["vertical"], changed["horizontal"])[1][0, centre, centre]
        if np.abs(np.asarray(output) - np.asarray(reference)).max() > 1e-6:
            seen[stack].add((row - centre, column - centre))
    assert {stack: sorted(offsets) for stack, offsets in seen.items()} == {
        stack: sorted(offsets) for stack, offsets in diagrams.BLOCK_1_FIELD.items()
    }


def test_restoration_pipeline_shows_every_step_of_notebook_05():
    text = _joined(diagrams.draw_restoration_pipeline())
    for element in [
        "encode",
        "flag",
        "blind-spot",
        "heal",
        "raster order",
        "healed $z_{<ij})$",
        "healthy validation slices",
        "decode",
        r"|G_\sigma * (x - x_\mathrm{healed})|",
        "median 5×5",
        "brain region",
        "anomaly map",
    ]:
        assert element in text, element


def test_the_values_the_diagrams_state_are_the_packages():
    from oasis_helpers import anomaly, models, prior, quantizer
    from oasis_helpers.prior import model as prior_model

    package = {
        "commitment_cost": quantizer.DEFAULT_COMMITMENT_COST,
        "ema_decay": quantizer.DEFAULT_EMA_DECAY,
        "num_embeddings": models.DEFAULT_CONFIG["num_embeddings"],
        "embedding_dim": models.DEFAULT_CONFIG["embedding_dim"],
        "hidden_channels": prior.DEFAULT_PRIOR["hidden_channels"],
        "kernel_size": prior.DEFAULT_PRIOR["kernel_size"],
        "num_layers": prior.DEFAULT_PRIOR["num_layers"],
        "dilations": tuple(prior.DEFAULT_PRIOR["dilations"]),
        "feature_frequencies": tuple(prior.DEFAULT_PRIOR["feature_frequencies"]),
        "position_hidden": prior_model.POSITION_HIDDEN,
        "position_features": prior_model.POSITION_FEATURES,
        "flag_smoothing": anomaly.DEFAULT_FLAG_SMOOTHING,
        "flag_dilation": anomaly.DEFAULT_FLAG_DILATION,
        "flag_quantiles": tuple(anomaly.DEFAULT_FLAG_QUANTILES),
        "restoration_quantile": anomaly.DEFAULT_RESTORATION_QUANTILE,
        "num_restorations": anomaly.DEFAULT_NUM_RESTORATIONS,
        "difference_smoothing": anomaly.DEFAULT_DIFFERENCE_SMOOTHING,
        "median_size": anomaly.DEFAULT_MEDIAN_SIZE,
    }
    assert diagrams.SHOWN == package
    assert models.DEFAULT_CONFIG["quantizer"] == "ema"  # "EMA ('ema', the default)"


def test_save_diagrams_writes_four_pngs_900_pixels_wide_and_docs_holds_them(tmp_path):
    from PIL import Image

    paths = diagrams.save_diagrams(tmp_path / "docs")
    expected = ["roadmap", "vqvae_gradients", "gated_block", "restoration_pipeline"]
    assert [path.name for path in paths] == [f"{name}.png" for name in expected]
    for path in paths:
        assert path.stat().st_size > 10_000
        with Image.open(path) as image:
            assert image.width == 900
            with Image.open(ROOT / "docs" / path.name) as committed:  # regenerated after changes
                assert committed.size == image.size, path.name
