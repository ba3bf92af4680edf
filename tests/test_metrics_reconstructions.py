"""Tests of oasis_helpers.metrics.reconstructions: slices without brain are NaN, means skip them."""

from __future__ import annotations

import numpy as np
import pytest
from oasis_fixtures import brain_images

from oasis_helpers import metrics


def test_slices_without_brain_are_nan_and_skipped_by_the_means():
    images = brain_images(count=2, size=32)
    images[1] = 0.0
    predictions = images * 0.9
    result = metrics.evaluate_reconstructions(images, predictions)
    assert np.isnan(result["per_slice"]["ssim_brain"][1])
    assert np.isnan(result["per_slice"]["psnr_brain"][1])
    assert result["ssim_brain"] == pytest.approx(result["per_slice"]["ssim_brain"][0])
    assert set(result) == {"per_slice", "ssim", "ssim_brain", "psnr", "psnr_brain"}
    # the empty slice is reproduced exactly: PSNR inf, capped in the mean
    assert result["psnr"] == pytest.approx((min(result["per_slice"]["psnr"][0], 100.0) + 100.0) / 2)
