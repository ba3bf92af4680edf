"""Notebook 05's three anomaly maps of a batch of slices, with the VQ-VAE, the prior and the
blind-spot model, timed.

:func:`anomaly_maps` computes the reconstruction residual, the prior's surprise and the
prior-guided restoration map (:class:`AnomalyMaps`). The restoration may change only the
brain codes near what a flagger finds surprising (:func:`restoration_region`): the
blind-spot model's :func:`flag_probabilities` (:mod:`oasis_helpers.blind_spot`), or
without one the prior's own causal pass, so that a replacement cannot derail every code
after it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from oasis_helpers.anomaly.code_regions import brain_codes
from oasis_helpers.anomaly.lesions import DEFAULT_EROSION, brain_region
from oasis_helpers.anomaly.maps import (
    DEFAULT_DIFFERENCE_SMOOTHING,
    DEFAULT_MEDIAN_SIZE,
    postprocess_map,
    residual_map,
    restoration_map,
    upsample_grid_map,
)
from oasis_helpers.anomaly.restoration import (
    DEFAULT_NUM_RESTORATIONS,
    Restoration,
    restore_repeatedly,
    restore_with_prior,
)
from oasis_helpers.anomaly.scores import SCORES, ScoreReference, restoration_score

__all__ = [
    "DEFAULT_FLAG_DILATION",
    "DEFAULT_FLAG_QUANTILES",
    "DEFAULT_FLAG_SMOOTHING",
    "DEFAULT_LIKELIHOOD_SMOOTHING",
    "METHODS",
    "AnomalyMaps",
    "anomaly_maps",
    "flag_probabilities",
    "rescore",
    "restoration_region",
    "scored_restoration_map",
]

#: Candidates for the flag threshold of the restoration region: a quantile of the
#: blind-spot model's probabilities (3 x 3 geometric means) of healthy validation brain
#: codes, so 0.005 flags codes more surprising than all but 0.5 % of healthy ones.
#: Notebook 05 picks one on validation slices with synthetic lesions.
DEFAULT_FLAG_QUANTILES = (0.02, 0.01, 0.005)


#: Side, in codes, of the box mean over the blind-spot surprise before it is thresholded.
DEFAULT_FLAG_SMOOTHING = 3


#: Restoration may change only codes within this many codes (a square) of a code that one
#: prior pass flags; ``None`` lets it change any brain code.
DEFAULT_FLAG_DILATION = 1


#: Side, in codes, of the box mean over the prior's NLL map before it is brought to the
#: image: a lesion surprises the prior at its codes and at the codes after them, so the
#: mean over a neighbourhood separates lesion codes from healthy ones better than one
#: code's NLL (``benchmarks/anomaly.py``, ``benchmarks/results/anomaly_demo.json``:
#: ``diagnostics.code_auroc.nll_box_mean`` against ``diagnostics.code_auroc.nll``). A
#: 5 x 5 mean did no better in an earlier measurement that no results file keeps.
DEFAULT_LIKELIHOOD_SMOOTHING = 3


#: The three methods of notebook 05, in the order of its tables.
METHODS = ("reconstruction", "likelihood", "restoration")


def restoration_region(
    code_probabilities: npt.ArrayLike,
    threshold: float,
    allowed: npt.ArrayLike | None = None,
    dilation: int | None = DEFAULT_FLAG_DILATION,
    fill_holes: bool = False,
) -> npt.NDArray[np.bool_]:
    """Where restoration may change codes: near what one prior pass flags.

    ``allowed & fill?(dilate(p < threshold & allowed, (2 d + 1) x (2 d + 1) square))`` with ``p``
    the probabilities of the observed codes in one causal pass; ``dilation=None`` gives
    ``allowed`` (every brain code). Confining the raster walk to the neighbourhood of what
    the prior flags keeps a resampled code from derailing every code after it (each
    replacement changes the context of the next codes, which may then fall below the
    threshold in turn); the dilation lets the interior of a lesion whose border is flagged
    be healed too. With ``fill_holes``, codes that the flagged region encloses in their
    slice join it: a lesion wider than the blind-spot model's hole explains its own
    interior (each interior code's neighbours are lesion too), so only its rim is
    flagged, and the fill brings the interior back.

    Args:
        code_probabilities: float ``[N, h, w]`` in ``[0, 1]``.
        threshold: the restoration threshold.
        allowed: optional bool ``[N, h, w]`` (e.g. :func:`brain_codes`).
        dilation: ``d >= 0`` codes, or None.
        fill_holes: also take the codes the region encloses (per slice, 4-connected holes).

    Returns:
        bool ``[N, h, w]``.
    """
    probabilities = np.asarray(code_probabilities)
    if probabilities.ndim != 3:
        raise ValueError(f"code_probabilities must have shape [N, h, w], got {probabilities.shape}")
    allowed = (
        np.ones(probabilities.shape, bool)
        if allowed is None
        else np.broadcast_to(np.asarray(allowed, bool), probabilities.shape)
    )
    if dilation is None:
        return allowed.copy()
    if int(dilation) != dilation or dilation < 0:
        raise ValueError(f"dilation must be None or an integer >= 0, got {dilation}")
    flagged = (probabilities < threshold) & allowed
    if dilation:
        square = np.ones((1, 2 * int(dilation) + 1, 2 * int(dilation) + 1), bool)
        flagged = ndimage.binary_dilation(flagged, structure=square)
    if fill_holes:
        per_slice = np.zeros((3, 3, 3), bool)
        per_slice[1] = ndimage.generate_binary_structure(2, 1)
        flagged = ndimage.binary_fill_holes(flagged, structure=per_slice)
    return flagged & allowed


class AnomalyMaps(NamedTuple):
    """What :func:`anomaly_maps` computed for ``N`` slices and ``R`` restorations.

    Attributes:
        maps: method name (:data:`METHODS`) -> post-processed float32 map ``[N, H, W]``.
        region: bool ``[N, H, W]``: the eroded brain, where maps are evaluated.
        reconstructions: float32 ``[N, H, W, 1]``, the VQ-VAE's ``x_hat``.
        codes: int32 ``[N, h, w]``, the encoded slices.
        nll_bits: float32 ``[N, h, w]``, ``-log2 p(z_ij | z_<ij)`` of one prior pass.
        restoration: :class:`Restoration` with fields ``[R, N, h, w]``.
        healed: float32 ``[R, N, H, W, 1]``, the decoded healed grids.
        seconds: method name -> wall-clock seconds for the ``N`` slices (each method's
            whole chain: the likelihood and restoration include encoding).
        flag_bits: float32 ``[N, h, w]``, the blind-spot model's surprise in bits
            (:func:`oasis_helpers.blind_spot.surprise_bits`), or None without a flag model.
    """

    maps: dict[str, npt.NDArray[np.float32]]
    region: npt.NDArray[np.bool_]
    reconstructions: npt.NDArray[np.float32]
    codes: npt.NDArray[np.int32]
    nll_bits: npt.NDArray[np.float32]
    restoration: Restoration
    healed: npt.NDArray[np.float32]
    seconds: dict[str, float]
    flag_bits: npt.NDArray[np.float32] | None = None


def flag_probabilities(
    flag_model,
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike,
    smoothing: int = DEFAULT_FLAG_SMOOTHING,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """The blind-spot model's flag scores of code grids, as probabilities.

    ``2 ** -B_s(b)``, where ``b = -log2 p(z_ij | surroundings)`` is
    :func:`oasis_helpers.blind_spot.surprise_bits` and ``B_s`` the mean over ``s x s``
    codes: the geometric mean of the probabilities around each code. A lesion of a few
    codes is surprising at all of them, a stray healthy code at one only.

    Args:
        flag_model: a model from :func:`oasis_helpers.blind_spot.make_blind_spot_model`.
        codes: int ``[N, h, w]``; slice_heights: their slices' heights ``[N]`` (or one
            value) in ``[0, 1]``.
        smoothing: ``s >= 1`` codes.

    Returns:
        ``(probabilities, bits)``, float ``[N, h, w]`` each: the smoothed probabilities,
        which :func:`choose_restoration_threshold` and :func:`restoration_region` take,
        and the unsmoothed surprise in bits.
    """
    from oasis_helpers import blind_spot

    if isinstance(smoothing, bool) or int(smoothing) != smoothing or smoothing < 1:
        raise ValueError(f"smoothing must be an integer >= 1 codes, got {smoothing}")
    bits = blind_spot.surprise_bits(flag_model, codes, slice_heights)
    smoothed = ndimage.uniform_filter(bits, (1, int(smoothing), int(smoothing)))
    return np.exp2(-smoothed.astype(np.float64)), bits


def _check_score(score: str, score_reference: ScoreReference | None) -> None:
    if score not in SCORES:
        raise ValueError(f"score must be one of {tuple(SCORES)}, got {score!r}")
    if score != "difference" and score_reference is None:
        raise ValueError(
            f"score={score!r} needs a score_reference (anomaly.fit_score_reference of "
            "healthy validation slices and their restorations)"
        )


def _raw_restoration(images, healed, score, score_reference, difference_smoothing):
    """The restoration map before post-processing, ``[N, H, W]``."""
    if score == "difference":
        return restoration_map(images, healed, smoothing=difference_smoothing)
    return restoration_score(images, healed, score_reference, score)


def scored_restoration_map(
    images: npt.ArrayLike,
    healed: npt.ArrayLike,
    region: npt.ArrayLike,
    score: str = "difference",
    score_reference: ScoreReference | None = None,
    median_size: int = DEFAULT_MEDIAN_SIZE,
    difference_smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
) -> npt.NDArray[np.float32]:
    """The post-processed restoration map of ``images`` [N, H, W, 1] and their decoded
    healed grids ``healed`` [R, N, H, W, 1], read by ``score``, as :func:`anomaly_maps`
    computes it: ``"difference"`` the mean ``|G_sigma * (x - x_healed)|``, another key of
    :data:`~oasis_helpers.anomaly.scores.SCORES` through
    :func:`~oasis_helpers.anomaly.scores.restoration_score` with ``score_reference``; then
    :func:`postprocess_map` in ``region`` [N, H, W]. Returns float32 ``[N, H, W]``."""
    _check_score(score, score_reference)
    images = np.asarray(images, np.float32)
    raw = _raw_restoration(images, healed, score, score_reference, difference_smoothing)
    return postprocess_map(raw, region, median_size)


def rescore(
    result: AnomalyMaps,
    images: npt.ArrayLike,
    score: str,
    score_reference: ScoreReference | None,
    median_size: int = DEFAULT_MEDIAN_SIZE,
) -> AnomalyMaps:
    """``result`` (:func:`anomaly_maps` of ``images``) with its restoration map read by
    another ``score`` from the same healed images: no restoration runs again. The other
    maps, the healed images and the timings are unchanged."""
    restoration = scored_restoration_map(
        images, result.healed, result.region, score, score_reference, median_size
    )
    return result._replace(maps={**result.maps, "restoration": restoration})


def anomaly_maps(
    vqvae,
    prior_model,
    images: npt.ArrayLike,
    restoration_threshold: float,
    slice_heights: npt.ArrayLike | None = None,
    num_restorations: int = DEFAULT_NUM_RESTORATIONS,
    seed: int = 0,
    temperature: float = 1.0,
    flag_dilation: int | None = DEFAULT_FLAG_DILATION,
    median_size: int = DEFAULT_MEDIAN_SIZE,
    erosion: int = DEFAULT_EROSION,
    likelihood_upsampling: str = "bilinear",
    likelihood_smoothing: int = DEFAULT_LIKELIHOOD_SMOOTHING,
    difference_smoothing: float = DEFAULT_DIFFERENCE_SMOOTHING,
    flag_model=None,
    flag_threshold: float | None = None,
    flag_fill_holes: bool = False,
    reflag_rounds: int = 0,
    score: str = "difference",
    score_reference: ScoreReference | None = None,
) -> AnomalyMaps:
    """The three anomaly maps of notebook 05 for ``images``, timed.

    * ``reconstruction``: ``|G_sigma * (x - x_hat)|`` (:func:`residual_map`);
    * ``likelihood``: the prior's ``-log2 p(z_ij | z_<ij)``, one causal pass, averaged over
      ``likelihood_smoothing x likelihood_smoothing`` codes (1: no averaging), brought to
      the image by :func:`upsample_grid_map` (``likelihood_upsampling``: bilinear scored a
      higher pixel AUROC than nearest on notebook 05's validation slices, in a comparison
      that no results file keeps; ``benchmarks/results/anomaly_demo.json``:
      ``baselines.likelihood.auroc_pixel`` is the bilinear map's);
    * ``restoration``: ``R`` restorations with the fast sampler
      (:func:`restore_with_prior`, threshold ``restoration_threshold``), confined to
      :func:`restoration_region` of the brain codes (:func:`brain_codes`), each decoded;
      the map is the mean ``|G_sigma * (x - x_healed)|`` (:func:`restoration_map`). The
      region is the neighbourhood of the codes that ``flag_model`` (a blind-spot model)
      finds surprising, :func:`flag_probabilities` below ``flag_threshold``; without a
      flag model, of those that the prior's causal pass finds below
      ``restoration_threshold``.

    Each map goes through :func:`postprocess_map` (brain region, median filter).

    Args:
        vqvae: notebook 03's ``VQVAE`` (``encode``, ``decode``, ``reconstruct``).
        prior_model: notebook 04's ``GatedPixelCNN``.
        images: float32 ``[N, H, W, 1]`` in ``[0, 1]``.
        restoration_threshold: from :func:`choose_restoration_threshold` on healthy
            validation slices.
        slice_heights: the slices' heights ``[N]`` (or one value) in ``[0, 1]``, for a
            conditional prior and for ``flag_model`` (None: neither needs them).
        num_restorations: ``R >= 1``.
        seed: seeds the restorations (restoration ``r`` as in :func:`restore_repeatedly`).
        temperature, flag_dilation: of the replacements and of :func:`restoration_region`.
        median_size, erosion: of :func:`postprocess_map` and :func:`brain_region`.
        likelihood_upsampling: ``"bilinear"`` or ``"nearest"`` (:func:`upsample_grid_map`).
        likelihood_smoothing: side of the box mean over the NLL grid, in codes (>= 1).
        difference_smoothing: ``sigma`` in pixels of the residual and restoration maps
            (:data:`DEFAULT_DIFFERENCE_SMOOTHING`; 0: plain absolute differences).
        flag_model, flag_threshold: the blind-spot model that chooses the restoration
            region and its threshold (from :func:`choose_restoration_threshold` on the
            :func:`flag_probabilities` of healthy validation codes); both or neither.
        flag_fill_holes: the region also takes the codes it encloses
            (:func:`restoration_region`'s ``fill_holes``).
        reflag_rounds: flag, heal, flag again: up to this many times one restoration of
            the region is flagged anew by ``flag_model`` and the new region joins the old,
            until it stops growing. Healing a wide lesion's rim leaves its interior beside
            healed tissue, where the blind-spot model finds it surprising at last. 0: the
            first region only.
        score: how the restoration map reads the healed images: ``"difference"`` (the
            mean ``|G_sigma * (x - x_healed)|``, the default) or another key of
            :data:`oasis_helpers.anomaly.scores.SCORES` (``"zscore"``, ``"texture"``,
            ``"zscore_texture"``, ...), computed by
            :func:`~oasis_helpers.anomaly.scores.restoration_score` from the same healed
            images (no extra restoration).
        score_reference: :func:`~oasis_helpers.anomaly.scores.fit_score_reference` of
            healthy validation slices' restorations; needed by every score but
            ``"difference"``.
    """
    import time

    from oasis_helpers import prior

    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must have shape [N, H, W, 1], got {images.shape}")
    if isinstance(likelihood_smoothing, bool) or int(likelihood_smoothing) < 1:
        raise ValueError(
            f"likelihood_smoothing must be an integer >= 1, got {likelihood_smoothing}"
        )
    if (flag_model is None) != (flag_threshold is None):
        raise ValueError("pass flag_model and flag_threshold together (or neither)")
    if isinstance(reflag_rounds, bool) or int(reflag_rounds) != reflag_rounds or reflag_rounds < 0:
        raise ValueError(f"reflag_rounds must be an integer >= 0, got {reflag_rounds}")
    if reflag_rounds and flag_model is None:
        raise ValueError("reflag_rounds needs a flag_model (the blind-spot model flags anew)")
    _check_score(score, score_reference)
    region = brain_region(images, erosion=erosion)
    seconds = {}
    start = time.perf_counter()
    reconstructions = np.asarray(vqvae.reconstruct(images), np.float32)
    seconds["reconstruction"] = time.perf_counter() - start
    start = time.perf_counter()
    codes = np.asarray(vqvae.encode(images), np.int32)
    nll_bits = prior.nll_map_bits(prior_model, codes, slice_heights)
    seconds["likelihood"] = time.perf_counter() - start
    start = time.perf_counter()
    allowed = brain_codes(images, codes.shape[1:])
    flag_bits = None
    if flag_model is None:
        flags, flag_threshold = 2.0**-nll_bits, restoration_threshold
    else:
        flags, flag_bits = flag_probabilities(flag_model, codes, slice_heights)
    changeable = restoration_region(
        flags, flag_threshold, allowed, flag_dilation, fill_holes=flag_fill_holes
    )

    def restore(grids, threshold, seed):
        return restore_with_prior(
            prior_model,
            grids,
            threshold,
            seed,
            slice_heights=slice_heights,
            temperature=temperature,
            region=changeable,
        )

    for round_ in range(int(reflag_rounds)):
        healed_codes = restore(codes, restoration_threshold, seed + 10_000 + round_).codes
        again, _ = flag_probabilities(flag_model, healed_codes, slice_heights)
        grown = changeable | restoration_region(
            again, flag_threshold, allowed, flag_dilation, fill_holes=flag_fill_holes
        )
        if np.array_equal(grown, changeable):
            break
        changeable = grown
    restoration = restore_repeatedly(codes, restore, restoration_threshold, num_restorations, seed)
    healed = np.stack([np.asarray(vqvae.decode(grids), np.float32) for grids in restoration.codes])
    seconds["restoration"] = seconds["likelihood"] + time.perf_counter() - start
    image_size = images.shape[1:3]
    raw = {
        "reconstruction": residual_map(images, reconstructions, difference_smoothing),
        "likelihood": upsample_grid_map(
            ndimage.uniform_filter(nll_bits, (1, likelihood_smoothing, likelihood_smoothing)),
            image_size,
            likelihood_upsampling,
        ),
        "restoration": _raw_restoration(
            images, healed, score, score_reference, difference_smoothing
        ),
    }
    maps = {name: postprocess_map(raw[name], region, median_size) for name in METHODS}
    return AnomalyMaps(
        maps, region, reconstructions, codes, nll_bits, restoration, healed, seconds, flag_bits
    )
