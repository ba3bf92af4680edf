"""Sample quality, notebook 04's prior samples against real slices: Frechet distance,
diversity and memorisation.

:func:`frechet_distance` between Gaussians fitted to :func:`encoder_features` (the VQ-VAE
encoder's pooled pre-quantisation features; the model is an argument, so this module
imports no model), :func:`mean_pairwise_ssim` (diversity), :func:`nearest_ssim`
(memorisation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.metrics.image_quality import ssim_per_slice

__all__ = [
    "encoder_features",
    "frechet_distance",
    "mean_pairwise_ssim",
    "nearest_ssim",
]


def frechet_distance(features_a: npt.ArrayLike, features_b: npt.ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, F]``, ``[M, F]``.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Heusel et al. 2017),
    with ``scipy.linalg.sqrtm``; a tiny diagonal offset is added when the product
    is singular. Needs at least 2 rows in each set.
    """
    from scipy import linalg

    features_a = np.asarray(features_a, dtype=np.float64)
    features_b = np.asarray(features_b, dtype=np.float64)
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"expected feature sets [N, F] and [M, F], got {features_a.shape} and "
            f"{features_b.shape}"
        )
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("each feature set needs at least 2 rows")
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    covariance_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    covariance_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    root = linalg.sqrtm(covariance_a @ covariance_b)
    if not np.all(np.isfinite(root)):
        offset = np.eye(len(covariance_a)) * 1e-6
        root = linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    root = np.real(root)
    difference = mean_a - mean_b
    distance = difference @ difference + np.trace(covariance_a + covariance_b - 2.0 * root)
    return float(max(distance, 0.0))


def _check_count(name: str, value) -> int:
    """``value`` as an ``int`` >= 1 (booleans and fractions refused)."""
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def encoder_features(
    vqvae, images: npt.ArrayLike, grid: int = 2, batch_size: int = 64
) -> npt.NDArray[np.float64]:
    """Pooled pre-quantisation features of the VQ-VAE encoder, ``[N, D * (grid^2 + 1)]``.

    ``z_e = vqvae.encoder(images)`` ``[N, h, w, D]`` is average-pooled to a
    ``grid x grid`` layout (where in the slice) and joined with its spatial standard
    deviation per channel (how varied): the feature space of
    :func:`frechet_distance`. ``vqvae`` is any model with an ``encoder`` (notebook 03's
    ``VQVAE``): this module imports none.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must have shape [N, H, W, 1], got {images.shape}")
    grid = _check_count("grid", grid)
    features = []
    for start in range(0, len(images), batch_size):
        z_e = tf.cast(vqvae.encoder(tf.constant(images[start : start + batch_size])), tf.float32)
        height, width = int(z_e.shape[1]), int(z_e.shape[2])
        if height % grid or width % grid:
            raise ValueError(f"grid {grid} does not divide the feature grid {height}x{width}")
        pooled = tf.nn.avg_pool2d(
            z_e, (height // grid, width // grid), (height // grid, width // grid), "VALID"
        )
        spread = tf.math.reduce_std(z_e, axis=(1, 2))
        flat = tf.reshape(pooled, (tf.shape(pooled)[0], -1))
        features.append(np.asarray(tf.concat([flat, spread], axis=-1)))
    return np.concatenate(features, axis=0).astype(np.float64)


def mean_pairwise_ssim(images: npt.ArrayLike, max_pairs: int = 300, seed: int = 0) -> float:
    """Mean SSIM over pairs of distinct images ``[N, H, W, 1]`` (diversity: lower = more varied).

    All pairs when there are at most ``max_pairs``, else a random subset of them (300 pairs
    put the standard error of the mean at ``1 / sqrt(300)``, under 6 %, of the pairwise
    SSIMs' spread, and bound the time).
    """
    images = np.asarray(images, dtype=np.float32)
    if len(images) < 2:
        raise ValueError(f"need at least 2 images, got {len(images)}")
    first, second = np.triu_indices(len(images), k=1)
    if len(first) > max_pairs:
        chosen = np.random.default_rng(seed).choice(len(first), max_pairs, replace=False)
        first, second = first[chosen], second[chosen]
    return float(np.mean(ssim_per_slice(images[first], images[second])))


def nearest_ssim(
    queries: npt.ArrayLike, references: npt.ArrayLike, candidates: int = 4, thumbnail: int = 32
) -> npt.NDArray[np.float64]:
    """For each query image, the SSIM to its most similar reference image, ``[N]``.

    References are first ranked by the Euclidean distance of ``thumbnail``-sized
    copies; SSIM is computed on the ``candidates`` nearest (memorisation check: a
    prior that copies training slices scores high against the training set).
    """
    queries = np.asarray(queries, dtype=np.float32)
    references = np.asarray(references, dtype=np.float32)
    candidates = min(_check_count("candidates", candidates), len(references))

    def small(images):
        resized = tf.image.resize(images, (thumbnail, thumbnail), antialias=True)
        return np.asarray(resized).reshape(len(images), -1)

    query_small, reference_small = small(queries), small(references)
    distances = (
        (query_small**2).sum(1)[:, None]
        - 2 * query_small @ reference_small.T
        + (reference_small**2).sum(1)[None]
    )
    nearest = np.argsort(distances, axis=1)[:, :candidates]  # [N, candidates]
    scores = ssim_per_slice(np.repeat(queries, candidates, axis=0), references[nearest.ravel()])
    return scores.reshape(len(queries), candidates).max(axis=1)
