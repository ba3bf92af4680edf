"""Image-quality, codebook and sample-quality metrics: SSIM, PSNR (whole image and inside
the brain), perplexity and codebook usage, Frechet distance, diversity and memorisation.

All image functions take float images ``[N, H, W, 1]`` (or ``[H, W, 1]`` for one
slice) with values in ``[0, max_val]`` and return NumPy arrays: one value per
slice (the ``*_per_slice`` functions) or their mean.

Whole image
    :func:`ssim_per_slice` and :func:`psnr_per_slice` are ``tf.image.ssim``
    (11x11 Gaussian window, sigma 1.5, ``k1 = 0.01``, ``k2 = 0.03``) and
    ``tf.image.psnr`` (``10 log10(max_val^2 / MSE)``). Identical slices give
    PSNR ``inf``; the means cap each slice at ``max_psnr`` (default 100 dB) so
    that one perfect slice does not make the mean infinite.

Inside the brain
    Brain slices sit on a black background, which a decoder reproduces almost
    perfectly; the whole-image scores are therefore inflated by the background's
    share of the frame. The brain variants restrict the comparison to the brain:

    * the brain mask (:func:`brain_mask`) is ``target > threshold`` (default
      0.02 of the intensity range), dilated by ``dilation`` pixels (a max-pool),
      so dark sulci and ventricles inside the brain and the brain's edge count (the
      anomaly maps' brain, :func:`oasis_helpers.anomaly.brain_region`, is eroded
      instead: each docstring says why);
    * brain PSNR (:func:`brain_psnr_per_slice`) uses the MSE over the mask's
      pixels only: ``10 log10(max_val^2 / mean_{mask} (x - y)^2)``, i.e. the
      formula of ``tf.image.psnr`` restricted to the mask (equal to it for a
      full mask, which the tests check);
    * brain SSIM (:func:`brain_ssim_per_slice`) is ``tf.image.ssim`` computed on
      the **bounding box of the mask** (grown to at least the 11-pixel SSIM
      window), not on a masked SSIM map: ``tf.image.ssim`` returns only the mean
      of its map, and the bounding box of a brain is mostly brain, so this keeps
      the library's SSIM and drops most of the background. Slices whose mask is
      empty (no brain) get NaN, and the means ignore NaN.

Codebook
    :func:`perplexity` ``exp(-sum_k p_k log p_k)`` of the code histogram and
    :func:`codebook_usage` (fraction of the ``K`` codes that occur), from code
    indices of any shape; the same formulas as the quantizer's training metrics
    (re-used from :mod:`oasis_helpers.quantizer`), but over a whole set: the
    training log's ``batch_perplexity`` is a mean of per-batch perplexities, usually
    lower (one batch holds fewer distinct codes than a whole set).
    :func:`code_statistics` gives both and the histogram of a set of code grids at once
    (notebook 03); :func:`codebook_health` gives the whole-set statistics of a bare
    quantizer layer on a set of vectors (notebook 02).

Sample quality (notebook 04's prior samples against real slices)
    :func:`frechet_distance` between Gaussians fitted to :func:`encoder_features` (the
    VQ-VAE encoder's pre-quantisation features, pooled; the model is an argument, so
    this module imports no model), :func:`mean_pairwise_ssim` (diversity) and
    :func:`nearest_ssim` (memorisation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.quantizer import (
    code_counts,
    codebook_usage_from_counts,
    perplexity_from_counts,
)

__all__ = [
    "BRAIN_MASK_DILATION",
    "BRAIN_THRESHOLD",
    "MAX_PSNR",
    "SSIM_FILTER_SIZE",
    "brain_bounding_boxes",
    "brain_mask",
    "brain_psnr_per_slice",
    "brain_ssim_per_slice",
    "code_histogram",
    "code_statistics",
    "codebook_health",
    "codebook_usage",
    "encoder_features",
    "evaluate_reconstructions",
    "frechet_distance",
    "mean_pairwise_ssim",
    "nearest_ssim",
    "perplexity",
    "psnr",
    "psnr_per_slice",
    "ssim",
    "ssim_per_slice",
    "summarize",
]

#: Pixels of the target brighter than this (in units of ``max_val``) are brain.
BRAIN_THRESHOLD = 0.02
#: Cap of a single slice's PSNR in the means (identical slices have infinite PSNR).
MAX_PSNR = 100.0
#: Pixels by which :func:`brain_mask` grows the thresholded brain (a ``5 x 5`` max-pool).
BRAIN_MASK_DILATION = 2
#: Side of tf.image.ssim's Gaussian window (its default); brain boxes are at least this big.
SSIM_FILTER_SIZE = 11


def _as_batch(images, name: str) -> np.ndarray:
    """Float32 ``[N, H, W, C]`` from ``[N, H, W, C]`` or one ``[H, W, C]`` slice."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"{name} must have shape [N, H, W, C] or [H, W, C], got {array.shape}")
    return array


def _pair(targets, predictions) -> tuple[np.ndarray, np.ndarray]:
    targets = _as_batch(targets, "targets")
    predictions = _as_batch(predictions, "predictions")
    if targets.shape != predictions.shape:
        raise ValueError(
            f"targets and predictions differ in shape: {targets.shape} vs {predictions.shape}"
        )
    if min(targets.shape[1:3]) < SSIM_FILTER_SIZE:
        raise ValueError(
            f"images must be at least {SSIM_FILTER_SIZE}x{SSIM_FILTER_SIZE} pixels "
            f"(tf.image.ssim's window), got {targets.shape[1:3]}"
        )
    return targets, predictions


def _in_chunks(function, targets, predictions, chunk: int = 256) -> np.ndarray:
    """``function`` over aligned chunks of two arrays (bounded memory), concatenated."""
    results = [
        np.asarray(function(targets[i : i + chunk], predictions[i : i + chunk]))
        for i in range(0, len(targets), chunk)
    ]
    return np.concatenate(results).astype(np.float64) if results else np.zeros(0)


# ---------------------------------------------------------------------------------------------
# Whole image
# ---------------------------------------------------------------------------------------------
def ssim_per_slice(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """``tf.image.ssim`` of each slice: float64 ``[N]`` in ``[-1, 1]`` (1: identical)."""
    targets, predictions = _pair(targets, predictions)
    return _in_chunks(
        lambda a, b: tf.image.ssim(tf.constant(a), tf.constant(b), max_val=max_val),
        targets,
        predictions,
    )


def psnr_per_slice(
    targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0
) -> npt.NDArray[np.float64]:
    """``tf.image.psnr`` of each slice in dB: float64 ``[N]`` (``inf`` for identical slices)."""
    targets, predictions = _pair(targets, predictions)
    return _in_chunks(
        lambda a, b: tf.image.psnr(tf.constant(a), tf.constant(b), max_val=max_val),
        targets,
        predictions,
    )


def ssim(targets: npt.ArrayLike, predictions: npt.ArrayLike, max_val: float = 1.0) -> float:
    """Mean whole-image SSIM over the slices."""
    return float(np.mean(ssim_per_slice(targets, predictions, max_val)))


def psnr(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    max_psnr: float = MAX_PSNR,
) -> float:
    """Mean whole-image PSNR (dB) over the slices, each slice capped at ``max_psnr``."""
    return float(np.mean(np.minimum(psnr_per_slice(targets, predictions, max_val), max_psnr)))


# ---------------------------------------------------------------------------------------------
# Inside the brain
# ---------------------------------------------------------------------------------------------
def brain_mask(
    targets: npt.ArrayLike,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
    max_val: float = 1.0,
) -> npt.NDArray[np.bool_]:
    """The brain of the reconstruction scores, bool ``[N, H, W]``: ``target > threshold *
    max_val``, dilated.

    Used by the brain PSNR and SSIM (:func:`brain_psnr_per_slice`,
    :func:`brain_ssim_per_slice`, so notebook 03's :func:`evaluate_reconstructions`).
    Dilated because a reconstruction is scored on the whole brain *and its edge*: a decoder
    that blurs or shrinks the outline loses there, and the dark sulci next to the
    threshold count too. Not :func:`oasis_helpers.anomaly.brain_region`, the brain of the
    anomaly maps, which is eroded instead: there the edge is where every model errs, and
    it is not a lesion.

    Args:
        targets: ``[N, H, W, C]`` or ``[H, W, C]`` (the mask uses the first channel).
        threshold: fraction of ``max_val`` above which a pixel is brain.
        dilation: grow the mask by this many pixels (a ``(2d+1)^2`` max-pool);
            0 keeps the thresholded mask.
    """
    targets = _as_batch(targets, "targets")
    if dilation < 0:
        raise ValueError(f"dilation must be >= 0, got {dilation}")
    mask = (targets[..., :1] > threshold * max_val).astype(np.float32)
    if dilation:
        mask = tf.nn.max_pool2d(mask, ksize=2 * dilation + 1, strides=1, padding="SAME").numpy()
    return mask[..., 0] > 0.5


def brain_bounding_boxes(
    mask: npt.ArrayLike, min_size: int = SSIM_FILTER_SIZE
) -> npt.NDArray[np.int64]:
    """``[N, 4]`` int boxes ``(top, left, height, width)`` around each mask ``[N, H, W]``.

    Boxes are grown symmetrically (and kept inside the image) to at least
    ``min_size`` on each side; an empty mask gives ``(0, 0, 0, 0)``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must have shape [N, H, W], got {mask.shape}")
    _, height, width = mask.shape
    boxes = np.zeros((len(mask), 4), dtype=np.int64)
    for index, plane in enumerate(mask):
        rows = np.flatnonzero(plane.any(axis=1))
        cols = np.flatnonzero(plane.any(axis=0))
        if rows.size == 0:
            continue
        top, bottom = _grow(rows[0], rows[-1] + 1, min_size, height)
        left, right = _grow(cols[0], cols[-1] + 1, min_size, width)
        boxes[index] = (top, left, bottom - top, right - left)
    return boxes


def _grow(start: int, stop: int, min_size: int, limit: int) -> tuple[int, int]:
    """Grow ``[start, stop)`` to ``min(min_size, limit)`` pixels inside ``[0, limit)``."""
    missing = min(min_size, limit) - (stop - start)
    if missing > 0:
        start -= missing // 2
        stop += missing - missing // 2
        shift = max(0, -start) - max(0, stop - limit)
        start, stop = start + shift, stop + shift
    return int(start), int(stop)


def brain_ssim_per_slice(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
) -> npt.NDArray[np.float64]:
    """``tf.image.ssim`` on each slice's brain bounding box: float64 ``[N]`` (NaN: no brain).

    The box is that of :func:`brain_mask` (from the target), at least 11 pixels
    on each side. See the module docstring for why a box and not a masked map.
    """
    targets, predictions = _pair(targets, predictions)
    boxes = brain_bounding_boxes(brain_mask(targets, threshold, dilation, max_val))
    values = np.full(len(targets), np.nan)
    for index, (top, left, height, width) in enumerate(boxes):
        if height == 0:
            continue
        window = (slice(top, top + height), slice(left, left + width))
        values[index] = float(
            tf.image.ssim(
                tf.constant(targets[index][window]),
                tf.constant(predictions[index][window]),
                max_val=max_val,
            )
        )
    return values


def brain_psnr_per_slice(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    threshold: float = BRAIN_THRESHOLD,
    dilation: int = BRAIN_MASK_DILATION,
) -> npt.NDArray[np.float64]:
    """PSNR over the brain mask's pixels: float64 ``[N]`` in dB (NaN: no brain, inf: exact).

    ``10 log10(max_val^2 / MSE_mask)``, ``MSE_mask`` the mean squared error over the
    mask's pixels (all channels): ``tf.image.psnr``'s formula restricted to the brain.
    """
    targets, predictions = _pair(targets, predictions)
    mask = brain_mask(targets, threshold, dilation, max_val)[..., None]
    squared = np.square(targets.astype(np.float64) - predictions.astype(np.float64))
    pixels = mask.sum(axis=(1, 2, 3)) * targets.shape[-1]
    sums = (squared * mask).sum(axis=(1, 2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        mse = np.where(pixels > 0, sums / np.maximum(pixels, 1), np.nan)
        values = 10.0 * np.log10(max_val**2 / mse)
    return np.where(pixels > 0, values, np.nan)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def evaluate_reconstructions(
    targets: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_val: float = 1.0,
    max_psnr: float = MAX_PSNR,
) -> dict[str, Any]:
    """Every image metric per slice and averaged.

    Returns:
        ``{"per_slice": {"ssim", "ssim_brain", "psnr", "psnr_brain"} -> float64 [N],
        "ssim", "ssim_brain", "psnr", "psnr_brain" -> float}``. Means skip NaN
        (slices without brain) and cap each slice's PSNR at ``max_psnr``.
    """
    per_slice = {
        "ssim": ssim_per_slice(targets, predictions, max_val),
        "ssim_brain": brain_ssim_per_slice(targets, predictions, max_val),
        "psnr": psnr_per_slice(targets, predictions, max_val),
        "psnr_brain": brain_psnr_per_slice(targets, predictions, max_val),
    }
    result: dict[str, Any] = {"per_slice": per_slice}
    result.update(summarize(per_slice, max_psnr=max_psnr))
    return result


def summarize(
    per_slice: dict[str, npt.NDArray[np.float64]], max_psnr: float = MAX_PSNR
) -> dict[str, float]:
    """NaN-ignoring means of per-slice metrics (PSNR-like keys capped at ``max_psnr``)."""
    means = {}
    for key, values in per_slice.items():
        values = np.asarray(values, dtype=np.float64)
        if key.startswith("psnr"):
            values = np.minimum(values, max_psnr)
        finite = values[~np.isnan(values)]
        means[key] = float(finite.mean()) if finite.size else float("nan")
    return means


# ---------------------------------------------------------------------------------------------
# Codebook
# ---------------------------------------------------------------------------------------------
def _check_indices(indices, num_embeddings: int) -> np.ndarray:
    indices = np.asarray(indices)
    if num_embeddings < 1:
        raise ValueError(f"num_embeddings must be >= 1, got {num_embeddings}")
    if indices.size == 0:
        raise ValueError("got no code indices")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"code indices must be integers, got dtype {indices.dtype}")
    if indices.min() < 0 or indices.max() >= num_embeddings:
        raise ValueError(
            f"code indices must lie in [0, {num_embeddings - 1}], got values in "
            f"[{indices.min()}, {indices.max()}]"
        )
    return indices


def code_histogram(indices: npt.ArrayLike, num_embeddings: int) -> npt.NDArray[np.int64]:
    """How often each of the ``K`` codes occurs in ``indices`` (any shape): int64 ``[K]``."""
    indices = _check_indices(indices, num_embeddings)
    return np.bincount(indices.reshape(-1), minlength=num_embeddings).astype(np.int64)


def perplexity(indices: npt.ArrayLike, num_embeddings: int) -> float:
    """``exp(-sum_k p_k log p_k)`` of the code histogram: 1 (one code) .. K (all equally)."""
    indices = _check_indices(indices, num_embeddings)
    return float(perplexity_from_counts(code_counts(indices, num_embeddings)))


def codebook_usage(indices: npt.ArrayLike, num_embeddings: int) -> float:
    """Fraction of the ``K`` codes that occur at least once in ``indices``."""
    indices = _check_indices(indices, num_embeddings)
    return float(codebook_usage_from_counts(code_counts(indices, num_embeddings)))


def code_statistics(indices: npt.ArrayLike, num_embeddings: int) -> dict[str, Any]:
    """The whole-set statistics of code indices (any shape, e.g. code grids ``[N, h, w]``).

    Returns:
        ``counts`` (int64 ``[K]``, as :func:`code_histogram`), ``code_perplexity`` and
        ``codebook_usage`` (floats, the very values of :func:`perplexity` and
        :func:`codebook_usage`): the keys :func:`codebook_health` and
        :func:`oasis_helpers.plots.plot_code_frequencies` use.
    """
    indices = _check_indices(indices, num_embeddings)
    counts = code_counts(indices, num_embeddings)
    return {
        "counts": code_histogram(indices, num_embeddings),
        "code_perplexity": float(perplexity_from_counts(counts)),
        "codebook_usage": float(codebook_usage_from_counts(counts)),
    }


def codebook_health(layer, vectors: npt.ArrayLike, batch_size: int = 65536) -> dict[str, Any]:
    """Nearest-code statistics of a quantizer ``layer`` over a whole set of vectors ``[M, D]``.

    Unlike the layers' training metrics (``batch_perplexity``, ``batch_codebook_usage``:
    means of per-batch values), these are computed from one histogram over all
    ``M`` vectors.

    Args:
        layer: an :mod:`oasis_helpers.quantizer` layer (``code_indices``, ``lookup``,
            ``num_embeddings``).
        vectors: float ``[M, D]``.
        batch_size: vectors quantized at a time.

    Returns:
        ``code_perplexity`` (``exp`` of the entropy of the code histogram),
        ``codebook_usage`` (fraction of codes used at least once),
        ``reconstruction_mse`` (mean over all ``M * D`` elements of ``(x - e_{k*(x)})^2``)
        and ``counts`` (``[K]`` int64 histogram).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"vectors must be a non-empty [M, D] array, got shape {vectors.shape}")
    counts = np.zeros(layer.num_embeddings, dtype=np.float64)
    squared_error = 0.0
    for start in range(0, len(vectors), batch_size):
        chunk = vectors[start : start + batch_size]
        indices = layer.code_indices(chunk)
        counts += np.asarray(code_counts(indices, layer.num_embeddings))
        squared_error += float(np.sum((np.asarray(layer.lookup(indices)) - chunk) ** 2))
    return {
        "code_perplexity": float(perplexity_from_counts(counts)),
        "codebook_usage": float(codebook_usage_from_counts(counts)),
        "reconstruction_mse": squared_error / vectors.size,
        "counts": counts.astype(np.int64),
    }


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


# ---------------------------------------------------------------------------------------------
# Sample quality (notebook 04)
# ---------------------------------------------------------------------------------------------
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
    SSIMs' spread; ``tf.image.ssim``'s depthwise Gaussian filter is slow on CPUs without
    oneDNN).
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
