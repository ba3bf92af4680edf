"""plots.reconstructions: SSIM / PSNR histograms and the best and worst slices, from small
inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from oasis_helpers import metrics, plots

pytestmark = pytest.mark.usefixtures("close_figures")


def _images(count: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, size, size, 1)).astype(np.float32)


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
