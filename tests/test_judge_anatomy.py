"""The judge's reading of slices against the real anatomy at their height."""

import numpy as np
import pytest

from oasis_helpers import judge


def test_height_bins_cover_zero_to_one():
    np.testing.assert_array_equal(judge.height_bin([0, 0.09, 0.1, 0.55, 1.0], 10), [0, 0, 1, 5, 9])
    with pytest.raises(ValueError, match="bins"):
        judge.height_bin([0.5], 0)


def test_real_profile_means_per_bin_and_nan_where_empty():
    tissues = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.5, 0.5, 0.5]])
    mean, std, count = judge.real_profile([0.1, 0.2, 0.9], tissues, bins=2)
    np.testing.assert_allclose(mean, [[0.2, 0.2, 0.2], [0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(count, [2, 1])
    mean, _, count = judge.real_profile([0.1, 0.2, 0.3], tissues, bins=2)
    assert np.isnan(mean[1]).all() and count[1] == 0


def test_real_slices_hold_their_anatomy_and_noise_does_not(trained_judge, judge_cohort):
    train, _, test = judge_cohort
    heights, masks = judge.split_targets(train)
    tissues = judge.tissue_fractions(masks)
    test_heights, _ = judge.split_targets(test)
    real = judge.anatomy_profile(trained_judge.model, test.images, heights, tissues, test_heights)
    noise = np.random.default_rng(0).uniform(0, 1, test.images.shape).astype(np.float32)
    fake = judge.anatomy_profile(trained_judge.model, noise, heights, tissues, test_heights)
    assert real.height_error < 0.15
    assert fake.tissue_error > 2 * real.tissue_error
    assert real.judged_tissues.shape == (len(test), 3) and len(real.bin_centres) == 10
    unplaced = judge.anatomy_profile(trained_judge.model, test.images, heights, tissues)
    assert unplaced.height_error is None
    np.testing.assert_allclose(unplaced.placed_heights, unplaced.judged_heights)
    assert set(real.summary()) == {"height_error", "tissue_error"}
