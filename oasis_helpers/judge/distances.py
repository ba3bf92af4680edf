"""Distances between two sets of feature vectors that do not favour the larger set.

**Kernel inception distance** (KID; Bińkowski et al. 2018, "Demystifying MMD GANs"): the
unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial
kernel ``k(x, y) = (x . y / d + 1)^3`` (``d`` the feature width). For subsets
``X = {x_1..x_m}`` of set A and ``Y = {y_1..y_m}`` of set B::

    MMD^2_u = 1 / (m (m - 1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)]
              - 2 / m^2 sum_{i, j} k(x_i, y_j)

Its expectation is exactly the squared MMD: 0 when A and B come from the same
distribution, whatever ``m`` (estimates can be negative), and it needs no Gaussian
assumption. :func:`kernel_distance` averages it over ``subsets`` random subsets of
``subset_size`` rows of each set and gives the spread too.

The Fréchet distance (:func:`oasis_helpers.metrics.frechet_distance`) is biased: its
expected value falls as the sets grow, so a 64-sample set compared with a 576-slice
floor is not a fair comparison. :func:`frechet_distance_equal` draws the same number of
rows from both sets first, so every distance compared is at the same size.

The cubic kernel is not scale-free: ``x . y / d`` should be of order 1. The judge's
features (ReLU averages, all positive, of order 0.1) are first centred on the real training
slices' mean and divided by their root-mean-square (:func:`scaled_features`), one affine map
applied to every set alike.

Shapes: ``features_a`` ``[N, d]``, ``features_b`` ``[M, d]`` (float).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from oasis_helpers import metrics

__all__ = [
    "KernelDistance",
    "frechet_distance_equal",
    "kernel_distance",
    "mmd2_unbiased",
    "polynomial_kernel",
    "scaled_features",
]


class KernelDistance(NamedTuple):
    """What :func:`kernel_distance` measured: ``mean`` and ``std`` of the unbiased squared
    MMD over ``subsets`` subsets of ``subset_size`` rows of each set."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def _check_pair(features_a, features_b) -> tuple[np.ndarray, np.ndarray]:
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"expected feature sets [N, d] and [M, d], got {features_a.shape} and "
            f"{features_b.shape}"
        )
    return features_a, features_b


def scaled_features(features: npt.ArrayLike, reference: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``(features - mean) / rms``: centred on the ``reference`` rows' mean ``[d]`` and
    divided by the root-mean-square of the centred reference entries (a scalar), so that
    the reference has mean 0 and mean squared entry 1. ``[N, d]``, ``[M, d]`` -> ``[N, d]``."""
    features, reference = _check_pair(features, reference)
    mean = reference.mean(axis=0)
    scale = float(np.sqrt(((reference - mean) ** 2).mean()))
    return (features - mean) / max(scale, 1e-12)


def polynomial_kernel(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``k(x, y) = (x . y / d + 1)^3`` for every pair: ``[N, d]``, ``[M, d]`` -> ``[N, M]``."""
    x, y = _check_pair(x, y)
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """The unbiased squared MMD of two sets ``[m, d]``, ``[n, d]`` (m, n >= 2) with
    :func:`polynomial_kernel`: the diagonals of the within-set kernels are left out."""
    x, y = _check_pair(x, y)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"each set needs at least 2 rows, got {m} and {n}")
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def kernel_distance(
    features_a: npt.ArrayLike,
    features_b: npt.ArrayLike,
    subsets: int = 100,
    subset_size: int = 50,
    seed: int = 0,
) -> KernelDistance:
    """KID of two feature sets: the unbiased squared MMD averaged over random subsets.

    Subset ``s`` draws ``subset_size`` rows of each set without replacement (NumPy
    ``default_rng(seed)``), the same size from both, so the result does not depend on
    how many rows either set has beyond that.

    Args:
        features_a, features_b: ``[N, d]`` and ``[M, d]``, ``N, M >= subset_size``.
        subsets: how many subsets (>= 1).
        subset_size: rows per subset and set (>= 2).

    Returns:
        :class:`KernelDistance` (``std`` is 0 for a single subset).
    """
    features_a, features_b = _check_pair(features_a, features_b)
    subsets = _positive_int("subsets", subsets)
    subset_size = _positive_int("subset_size", subset_size)
    if subset_size < 2 or subset_size > min(len(features_a), len(features_b)):
        raise ValueError(
            f"subset_size must lie in [2, {min(len(features_a), len(features_b))}] (the smaller "
            f"set's size), got {subset_size}"
        )
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            mmd2_unbiased(
                features_a[rng.choice(len(features_a), subset_size, replace=False)],
                features_b[rng.choice(len(features_b), subset_size, replace=False)],
            )
            for _ in range(subsets)
        ]
    )
    return KernelDistance(float(values.mean()), float(values.std()), subsets, subset_size)


def frechet_distance_equal(
    features_a: npt.ArrayLike, features_b: npt.ArrayLike, size: int, seed: int = 0
) -> float:
    """:func:`oasis_helpers.metrics.frechet_distance` of ``size`` rows drawn from each set.

    The rows are drawn without replacement (NumPy ``default_rng(seed)``), so both sets
    enter at the same size and two such distances at the same ``size`` are comparable.

    Args:
        features_a, features_b: ``[N, d]`` and ``[M, d]``, ``N, M >= size``.
        size: rows of each set (>= 2).
    """
    features_a, features_b = _check_pair(features_a, features_b)
    size = _positive_int("size", size)
    if size < 2 or size > min(len(features_a), len(features_b)):
        raise ValueError(
            f"size must lie in [2, {min(len(features_a), len(features_b))}] (the smaller set's "
            f"size), got {size}"
        )
    rng = np.random.default_rng(seed)
    return metrics.frechet_distance(
        features_a[rng.choice(len(features_a), size, replace=False)],
        features_b[rng.choice(len(features_b), size, replace=False)],
    )
