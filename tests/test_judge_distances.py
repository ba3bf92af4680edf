"""KID (unbiased squared MMD, cubic kernel) and the equal-size Fréchet distance."""

import numpy as np
import pytest

from oasis_helpers import judge, metrics


def _loop_mmd2(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_unbiased_is_the_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 0.5
    assert judge.mmd2_unbiased(x, y) == pytest.approx(_loop_mmd2(x, y))
    np.testing.assert_allclose(judge.polynomial_kernel(x, y), (x @ y.T / 3 + 1) ** 3)


def test_kid_is_unbiased_where_the_plain_estimate_is_not():
    """Over many independent small sets from one distribution the unbiased estimate
    averages to 0; the plain (V-statistic) estimate, with the diagonals, stays above it."""
    rng = np.random.default_rng(1)
    unbiased, biased = [], []
    for _ in range(300):
        x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
        unbiased.append(judge.mmd2_unbiased(x, y))
        k = judge.polynomial_kernel
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    standard_error = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * standard_error
    assert np.mean(biased) > 10 * standard_error


def test_kid_of_a_set_split_in_two_is_near_zero_and_of_shifted_sets_above():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(200, 16))
    same = judge.kernel_distance(features[:100], features[100:], subsets=50, subset_size=50)
    shifted = judge.kernel_distance(features[:100], features[100:] + 0.5, 50, 50)
    assert abs(same.mean) < 2 * same.std
    assert shifted.mean > 5 * shifted.std and shifted.mean > 10 * abs(same.mean)
    assert (same.subsets, same.subset_size) == (50, 50)


def test_kid_checks_its_arguments():
    features = np.zeros((10, 3))
    with pytest.raises(ValueError, match="subset_size"):
        judge.kernel_distance(features, features[:5], subset_size=6)
    with pytest.raises(ValueError, match="subsets"):
        judge.kernel_distance(features, features, subsets=0, subset_size=4)
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        judge.kernel_distance(features, np.zeros((10, 4)), subset_size=4)


def test_frechet_distance_equal_draws_the_same_size_from_both_sets():
    rng = np.random.default_rng(3)
    big, small = rng.normal(size=(500, 3)), rng.normal(size=(40, 3))
    value = judge.frechet_distance_equal(big, small, size=40, seed=5)
    pick = np.random.default_rng(5)
    expected = metrics.frechet_distance(
        big[pick.choice(500, 40, replace=False)], small[pick.choice(40, 40, replace=False)]
    )
    assert value == pytest.approx(expected)
    with pytest.raises(ValueError, match="size"):
        judge.frechet_distance_equal(big, small, size=41)


def test_scaled_features_centre_and_scale_by_the_reference():
    rng = np.random.default_rng(4)
    reference = rng.normal(3.0, 0.1, size=(50, 4))
    scaled = judge.scaled_features(reference, reference)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-9)
    assert (scaled**2).mean() == pytest.approx(1.0)
