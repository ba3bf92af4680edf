"""The figures and tables that notebooks show with one call: what each draws from small inputs."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from oasis_helpers import metrics, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(count: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, size, size, 1)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Notebook 03's figures
# ---------------------------------------------------------------------------------------------
def test_numbers_per_slice_count_every_output_but_one_integer_per_code():
    table = [
        {"part": "encoder", "layer": "down_1", "output_shape": (16, 16, 8)},
        {"part": "quantizer", "layer": "vq", "output_shape": (8, 8, 4)},
        {"part": "decoder", "layer": "output", "output_shape": (32, 32, 1)},
    ]
    figure = plots.plot_numbers_per_slice(table, image_size=32)
    (axis,) = figure.axes
    bars = axis.patches
    assert [bar.get_height() for bar in bars] == [16 * 16 * 8, 8 * 8, 32 * 32]
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in bars]
    expected = [matplotlib.colors.to_hex(plots.PART_COLOURS[row["part"]]) for row in table]
    assert colours == expected
    assert [label.get_text() for label in axis.get_xticklabels()] == ["down_1", "vq", "output"]
    (pixels,) = axis.get_lines()  # the dashed line of the slice's pixels
    assert list(pixels.get_ydata()) == [32**2, 32**2]
    assert axis.get_yscale() == "log"


def test_reconstruction_metrics_histograms_skip_slices_without_brain_and_cap_psnr():
    per_slice = {
        "ssim": np.array([0.9, 0.8, 0.7, 1.0]),
        "ssim_brain": np.array([0.85, np.nan, 0.6, 0.95]),
        "psnr": np.array([30.0, 25.0, 20.0, np.inf]),  # a perfect copy: infinite PSNR
        "psnr_brain": np.array([28.0, np.nan, 18.0, 40.0]),
    }
    figure = plots.plot_reconstruction_metrics(per_slice)
    ssim_axis, psnr_axis = figure.axes
    assert ssim_axis.get_title() == "SSIM on 4 test slices" and psnr_axis.get_title() == "PSNR"

    def counted(axis):  # slices in each of the two histograms (whole slice, brain)
        heights = [patch.get_height() for patch in axis.patches]
        return sum(heights[: len(heights) // 2]), sum(heights[len(heights) // 2 :])

    assert counted(ssim_axis) == (4, 3)
    assert counted(psnr_axis) == (4, 3)  # the infinite PSNR counts, at the cap
    assert max(patch.get_x() + patch.get_width() for patch in psnr_axis.patches) == pytest.approx(
        metrics.MAX_PSNR
    )


def test_best_and_worst_shows_the_highest_and_lowest_brain_ssim_with_their_errors():
    images, reconstructions = _images(5), _images(5, seed=1)
    per_slice = {
        "ssim": np.array([0.6, 0.95, 0.99, 0.2, 0.8]),
        "ssim_brain": np.array([0.5, 0.9, np.nan, 0.1, 0.7]),  # no brain in slice 2: best
        "psnr": np.array([20.0, 30.0, 40.0, 10.0, 25.0]),
    }
    split = SimpleNamespace(subject_ids=[f"OAS1_000{i}" for i in range(5)], slice_ids=range(5))
    figure = plots.plot_best_and_worst(images, reconstructions, per_slice, split, count=2)
    axes = np.array(figure.axes).reshape(3, 4)
    chosen = [2, 1, 3, 0]  # best (highest first), then worst (lowest first)
    for column, index in enumerate(chosen):
        original, reconstruction, error = (axes[row, column].images[0] for row in range(3))
        np.testing.assert_array_equal(original.get_array(), images[index, ..., 0])
        np.testing.assert_array_equal(reconstruction.get_array(), reconstructions[index, ..., 0])
        np.testing.assert_allclose(
            error.get_array(), np.abs(images[index, ..., 0] - reconstructions[index, ..., 0])
        )
        label = "best" if column < 2 else "worst"
        assert axes[0, column].get_title() == f"{label}: OAS1_000{index}\nslice {index}"
    assert axes[2, 3].get_title() == "|error|, PSNR 20.0 dB"
    unnamed = plots.plot_best_and_worst(images, reconstructions, per_slice, count=9)
    assert len(unnamed.axes) == 3 * 10  # at most N of each kind
    assert unnamed.axes[0].get_title() == "best: slice 2"


def test_code_grids_show_evenly_spaced_slices_above_their_codes():
    images = _images(6)
    codes = np.random.default_rng(0).integers(0, 16, (6, 4, 4))
    figure = plots.plot_code_grids(images, codes, slice_ids=np.arange(10, 16), count=3)
    axes = np.array(figure.axes).reshape(2, 3)
    for column, index in enumerate([0, 2, 5]):
        np.testing.assert_array_equal(axes[0, column].images[0].get_array(), images[index, ..., 0])
        np.testing.assert_array_equal(axes[1, column].images[0].get_array(), codes[index])
        assert axes[0, column].get_title() == f"slice {10 + index}"
        assert axes[1, column].get_title() == "4 x 4 codes"
    with pytest.raises(ValueError, match="6 images but 5 code grids"):
        plots.plot_code_grids(images, codes[:5])


def test_code_frequencies_of_code_statistics():
    """Notebook 03 draws its codes' rank-frequency plot from ``metrics.code_statistics``."""
    grids = {"train": np.array([[0, 0, 0, 1]]), "test": np.array([[0, 1, 2, 2]])}
    statistics = {name: metrics.code_statistics(codes, 4) for name, codes in grids.items()}
    figure = plots.plot_code_frequencies(statistics)
    (axis,) = figure.axes
    train, test = axis.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [0.75, 0.25, np.nan, np.nan])
    np.testing.assert_allclose(test.get_ydata(), [0.5, 0.25, 0.25, np.nan])
    assert train.get_label() == f"train (perplexity {statistics['train']['code_perplexity']:.1f})"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def test_markdown_table_of_dicts_with_formats():
    rows = [
        {"part": "encoder", "layer": "down_1", "output_shape": (64, 64, 16), "parameters": 12345},
        {"part": "quantizer", "layer": "vq", "output_shape": (64, 64, 16), "parameters": 4096},
    ]
    table = plots.markdown_table(rows, formats={"layer": "`{}`", "parameters": "{:,}"})
    assert table.data.splitlines() == [
        "| part | layer | output shape | parameters |",
        "|---|---|---|---|",
        "| encoder | `down_1` | 64 x 64 x 16 | 12,345 |",
        "| quantizer | `vq` | 64 x 64 x 16 | 4,096 |",
    ]
    # chosen columns with their own headers; floats get float_format unless formatted
    results = [{"variant": "ema", "usage": 0.98, "mse": 3.6e-4, "perplexity": 9.58, "extra": []}]
    table = plots.markdown_table(
        results,
        {"variant": "variant", "usage": "codebook usage", "mse": "patch MSE", "perplexity": "p"},
        formats={"usage": "{:.1%}", "mse": lambda value: f"{value:.2e}"},
    )
    assert table.data.splitlines()[0] == "| variant | codebook usage | patch MSE | p |"
    assert table.data.splitlines()[2] == "| ema | 98.0% | 3.60e-04 | 9.580 |"


def test_markdown_table_of_sequences_escapes_pipes_and_checks_lengths():
    table = plots.markdown_table(
        {"prior": 1.23456, "a|b": np.float32(2.5), "two\nlines": 3}.items(),
        ["what", "distance"],
        float_format="{:.2f}",
    )
    assert table.data.splitlines()[2:] == [
        "| prior | 1.23 |",
        "| a\\|b | 2.50 |",
        "| two lines | 3 |",
    ]
    assert plots.markdown_table([], ["what"]).data == "| what |\n|---|"
    with pytest.raises(ValueError, match="row 0 has 1 values for 2 columns"):
        plots.markdown_table([("only one",)], ["what", "distance"])
    with pytest.raises(ValueError, match="needs columns"):
        plots.markdown_table([("a", 1)])
    with pytest.raises(ValueError, match="at least one column"):
        plots.markdown_table([{}], [])
