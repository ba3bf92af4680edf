"""How fast and how good the prior's samples are, as notebook 04 measures them: a timed batch
(:func:`timed_samples`), many samples drawn in chunks (:func:`sample_many`) and their
quality against real slices (:func:`sample_quality`).

The first call of the cached sampler for a configuration traces its compiled row loop;
:func:`timed_samples` times that call apart from the sampling itself.

The measures come from :mod:`oasis_helpers.metrics`, in the feature space of the series'
own VQ-VAE encoder (no feature network can be downloaded): the **Frechet distance** between
Gaussians fitted to the features of generated and of real test slices, for every
generator compared (the prior and the baselines' samples), with the distance between real
training and real test slices beside them (a floor only for as many samples as training
slices: the Frechet distance is biased upwards at small sample sizes, so notebook 04 also
computes a floor from as many real slices as samples); the
**diversity** of the prior's samples, their mean pairwise SSIM, beside that of the real
test slices; and **memorisation**, each sample's SSIM to its most similar training slice,
beside the same for the real test slices (a prior that copied its training slices would
score above them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from oasis_helpers import metrics
from oasis_helpers.prior.inputs import check_positive_int
from oasis_helpers.prior.sampling import sample_codes

__all__ = [
    "SAMPLE_CHUNK",
    "SampleQuality",
    "TimedSamples",
    "sample_many",
    "sample_quality",
    "timed_samples",
]

#: Grids per call of the sampler in :func:`sample_many`: the sampler's caches grow with the
#: batch, so many samples are drawn in chunks of this many to twice as many.
SAMPLE_CHUNK = 64


class TimedSamples(NamedTuple):
    """What :func:`timed_samples` drew, decoded and timed.

    Attributes:
        codes: int32 ``[count, h, w]``, the sampled code grids.
        images: float32 ``[count, H, W, 1]``, the VQ-VAE's decoding of them.
        temperature, top_k: of the draws (``top_k`` ``None``: no truncation).
        seconds: wall-clock seconds to sample and decode them (after tracing).
        trace_seconds: those of the first call, one row of codes, which traces the
            sampler's compiled row loop.
    """

    codes: np.ndarray
    images: np.ndarray
    temperature: float
    top_k: int | None
    seconds: float
    trace_seconds: float


def timed_samples(
    model,
    vqvae,
    count: int,
    size: int,
    slice_heights=None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> TimedSamples:
    """Sample ``count`` code grids of ``size x size`` with the cached sampler, decode them,
    and time it.

    A first call samples one row of each grid (seed ``seed``), which traces the compiled
    row loop and is timed apart; the timed call is
    :func:`~oasis_helpers.prior.sample_codes` of the whole grids (same seed) followed by
    ``vqvae.decode``.

    Args:
        model: a :class:`~oasis_helpers.prior.GatedPixelCNN`; vqvae: the VQ-VAE whose codes
            it models.
        count, size: ``count`` grids of ``size x size`` codes.
        slice_heights: for a conditional model, one height in ``[0, 1]`` or ``[count]``.
        temperature, top_k, seed, progress: of :func:`~oasis_helpers.prior.sample_codes`.

    Returns:
        :class:`TimedSamples`.
    """
    start = time.perf_counter()
    sample_codes(model, count, 1, size, slice_heights, seed=seed)
    trace_seconds = time.perf_counter() - start
    start = time.perf_counter()
    codes = sample_codes(
        model,
        count,
        size,
        size,
        slice_heights,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        progress=progress,
    )
    images = vqvae.decode(codes)
    seconds = time.perf_counter() - start
    return TimedSamples(codes, images, temperature, top_k, seconds, trace_seconds)


def sample_many(
    model,
    count: int,
    height: int,
    width: int,
    slice_heights=None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    chunk_size: int = SAMPLE_CHUNK,
    top_codes=None,
) -> np.ndarray:
    """``count`` new code grids from ``model``, drawn in chunks of ``chunk_size`` or more.

    ``np.array_split`` cuts the ``count`` grids into ``max(1, count // chunk_size)``
    chunks (so each holds ``chunk_size`` to ``2 * chunk_size - 1`` grids, or all of them
    when there are fewer) and chunk ``i`` is drawn by :func:`~oasis_helpers.prior.sample_codes`
    with seed ``seed + i``: the same seeds give the same grids.

    Args:
        model: a :class:`~oasis_helpers.prior.GatedPixelCNN`.
        count, height, width: the grids wanted, ``[count, height, width]``.
        slice_heights: for a conditional model, float ``[count]`` in ``[0, 1]`` (one per
            grid); ``None`` otherwise.
        temperature, top_k, seed: of the draws (:func:`~oasis_helpers.prior.sample_codes`).
        chunk_size: grids per sampler call, at least (``>= 1``).
        top_codes: for a two-level fine prior, its layouts ``[count, height/f, width/f]``
            (cut into the same chunks); ``None`` otherwise.

    Returns:
        int32 ``[count, height, width]``.
    """
    count = check_positive_int("count", count)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    if slice_heights is not None:
        slice_heights = np.asarray(slice_heights, np.float32)
        if slice_heights.shape != (count,):
            raise ValueError(
                f"slice_heights must hold one height per grid, shape ({count},), "
                f"got {slice_heights.shape}"
            )
    chunks = np.array_split(np.arange(count), max(1, count // chunk_size))
    return np.concatenate(
        [
            sample_codes(
                model,
                len(chunk),
                height,
                width,
                None if slice_heights is None else slice_heights[chunk],
                temperature=temperature,
                top_k=top_k,
                seed=seed + index,
                top_codes=None if top_codes is None else np.asarray(top_codes)[chunk],
            )
            for index, chunk in enumerate(chunks)
        ]
    )


class SampleQuality(NamedTuple):
    """What :func:`sample_quality` measured.

    Attributes:
        frechet: generator name -> Frechet distance of its decoded samples to the real
            test slices, and ``"train_test"``: that of up to ``max_references`` real training
            slices (a floor for that many slices, not for fewer samples).
        diversity_samples, diversity_test: mean pairwise SSIM of the measured generator's
            samples and of the real test slices (lower: more varied).
        nearest_samples, nearest_test: mean SSIM of each sample, and of each real test
            slice, to its most similar training slice (memorisation).
        count: how many samples of the measured generator.
    """

    frechet: dict[str, float]
    diversity_samples: float
    diversity_test: float
    nearest_samples: float
    nearest_test: float
    count: int


def sample_quality(
    vqvae,
    generated_codes: Mapping[str, np.ndarray],
    test_split,
    train_split,
    measured: str = "prior",
    max_references: int = 1000,
) -> SampleQuality:
    """Decode generated code grids and measure them against real slices.

    Args:
        vqvae: notebook 03's VQ-VAE (``decode`` and ``encoder``).
        generated_codes: generator name -> int code grids ``[n, h, w]`` (notebook 04: the
            prior and the three baselines), in the order of the result's ``frechet``.
        test_split, train_split: the real slices (``data`` splits: ``float_images`` and
            ``len``): every test slice, and up to ``max_references`` training slices evenly
            spread over the split, are the references.
        measured: the generator whose diversity and memorisation are measured (at least 2
            samples).
        max_references: the most training slices compared.

    Returns:
        :class:`SampleQuality`.
    """
    if measured not in generated_codes:
        raise ValueError(f"measured={measured!r} is none of the generators {list(generated_codes)}")
    max_references = check_positive_int("max_references", max_references)
    generated_images = {name: vqvae.decode(codes) for name, codes in generated_codes.items()}
    test_images = test_split.float_images(np.arange(len(test_split)))
    reference_count = min(len(train_split), max_references)
    reference_indices = np.linspace(0, len(train_split) - 1, reference_count).astype(int)
    train_images = train_split.float_images(reference_indices)

    test_features = metrics.encoder_features(vqvae, test_images)
    frechet = {
        name: metrics.frechet_distance(metrics.encoder_features(vqvae, images), test_features)
        for name, images in generated_images.items()
    }
    frechet["train_test"] = metrics.frechet_distance(
        metrics.encoder_features(vqvae, train_images), test_features
    )
    samples = generated_images[measured]
    return SampleQuality(
        frechet=frechet,
        diversity_samples=metrics.mean_pairwise_ssim(samples),
        diversity_test=metrics.mean_pairwise_ssim(test_images),
        nearest_samples=float(metrics.nearest_ssim(samples, train_images).mean()),
        nearest_test=float(metrics.nearest_ssim(test_images, train_images).mean()),
        count=len(samples),
    )
