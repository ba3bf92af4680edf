"""Difference maps, upsampling and post-processing (oasis_helpers.anomaly.maps)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import anomaly


def test_residual_and_postprocessing_restrict_to_the_region_and_remove_specks():
    images = np.full((2, 20, 20, 1), 0.5, np.float32)
    reconstructions = images.copy()
    reconstructions[0, 10, 10] = 0.9  # a single-pixel speck: the median filter removes it
    reconstructions[1, 5:12, 5:12] = 0.1  # a 7x7 block: the median filter keeps its core
    reconstructions[:, 0, :] = 0.0  # outside the region
    residual = anomaly.residual_map(images, reconstructions, smoothing=0)
    assert residual.shape == (2, 20, 20)
    assert residual[0, 10, 10] == pytest.approx(0.4)
    region = np.zeros((2, 20, 20), bool)
    region[:, 2:18, 2:18] = True
    smoothed = anomaly.postprocess_map(residual, region, median_size=5)
    assert not smoothed[~region].any()
    assert smoothed[0].max() == 0.0
    assert smoothed[1, 8, 8] == pytest.approx(0.4)
    np.testing.assert_array_equal(
        anomaly.postprocess_map(residual, region, median_size=1)[region], residual[region]
    )


def test_upsample_grid_map_nearest_fills_blocks_and_bilinear_is_smooth():
    grid = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    nearest = anomaly.upsample_grid_map(grid, 16, method="nearest")
    assert nearest.shape == (2, 16, 16)
    np.testing.assert_array_equal(nearest[:, ::4, ::4], grid)
    np.testing.assert_array_equal(nearest[:, 3::4, 3::4], grid)
    assert nearest.sum() == pytest.approx(16 * grid.sum())
    bilinear = anomaly.upsample_grid_map(grid, (16, 16), method="bilinear")
    assert bilinear.shape == (2, 16, 16)
    assert bilinear.min() >= grid.min() and bilinear.max() <= grid.max()
    constant = anomaly.upsample_grid_map(np.full((1, 4, 4), 2.5), 16, method="bilinear")
    np.testing.assert_allclose(constant, 2.5, atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        anomaly.upsample_grid_map(grid, 10)
    with pytest.raises(ValueError, match="method"):
        anomaly.upsample_grid_map(grid, 16, method="cubic")


def test_restoration_map_is_the_weighted_mean_residual():
    images = np.zeros((1, 2, 2, 1), np.float32)
    healed = np.stack([np.full_like(images, 0.2), np.full_like(images, 0.6)])
    np.testing.assert_allclose(anomaly.restoration_map(images, healed), 0.4)
    np.testing.assert_allclose(anomaly.restoration_map(images, healed, weights=[3, 1]), 0.3)
    with pytest.raises(ValueError, match="healed_reconstructions"):
        anomaly.restoration_map(images, healed[0])


def _edge_error_and_blob(size: int = 32):
    """A flat image, a reconstruction that errs by +-0.2 in a checkerboard (like errors
    around fine anatomy) on the left, and by a constant +0.2 over a blob on the right."""
    images = np.full((1, size, size, 1), 0.5, np.float32)
    others = images.copy()
    rows, cols = np.mgrid[:size, :size]
    left = (cols < size // 2 - 4) & (rows > 4) & (rows < size - 4)
    others[0, left, 0] += np.where((rows + cols)[left] % 2 == 0, 0.2, -0.2)
    blob = (rows - size // 2) ** 2 + (cols - 3 * size // 4) ** 2 <= 25
    others[0, blob, 0] += 0.2
    return images, others, left, blob


def test_smoothing_the_signed_difference_keeps_a_blob_and_cancels_alternating_errors():
    images, others, left, blob = _edge_error_and_blob()
    plain = anomaly.residual_map(images, others, smoothing=0)[0]
    assert plain[left].mean() == pytest.approx(0.2) and plain[blob].mean() == pytest.approx(0.2)
    smoothed = anomaly.residual_map(images, others, smoothing=1.0)[0]
    assert smoothed[left].mean() < 0.05  # the checkerboard averages out
    assert smoothed[blob].min() > 0.08 and smoothed[blob].max() > 0.15  # the blob stays
    assert smoothed[blob].mean() > 4 * smoothed[left].mean()
    assert anomaly.residual_map(images, others)[0] == pytest.approx(smoothed)  # the default
    # the restoration map smooths each restoration's difference the same way
    stacked = anomaly.restoration_map(images, np.stack([others, others]), smoothing=1.0)
    np.testing.assert_allclose(stacked[0], smoothed, atol=1e-6)
    assert anomaly.restoration_map(images, others[None], smoothing=0)[0] == pytest.approx(plain)
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="smoothing"):
            anomaly.residual_map(images, others, smoothing=bad)
