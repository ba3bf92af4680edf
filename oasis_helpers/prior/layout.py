"""A two-level prior, "layout then texture" (in the spirit of VQ-VAE-2, Razavi et al. 2019),
over the code grids of an unchanged VQ-VAE.

The one-level prior models each code from the codes above and to its left within a
receptive field of about 16 rows: it learns texture, not where ventricles and a midline
sit. Here the grid is described twice:

1. **Top codes** (:class:`TopQuantizer`): the ``h x w`` fine grid is cut into blocks of
   ``b x b`` codes (``b = block``, 4: a 64x64 grid gives a 16x16 top grid). Each block is
   summarised by the mean of its codes' VQ-VAE codebook vectors, ``s = (1 / b^2)
   sum_{(i, j) in block} e[c[i, j]]`` (``[D]``), and ``s`` is quantised to the nearest of
   ``K_top`` centres found by k-means (scikit-learn, on training grids only, a fixed seed):
   ``t = argmin_k ||s - m_k||^2``. The top grid ``t`` ``[h / b, w / b]`` holds the layout.
2. **Top prior**: a :class:`~oasis_helpers.prior.GatedPixelCNN` over the top grids
   (``K_top`` codes; conditioned on the slice's height and the coordinates like the
   one-level prior); with dilations ``(1, 2, 4, 8)`` its receptive field covers 16 rows.
3. **Fine prior**: a :class:`~oasis_helpers.prior.GatedPixelCNN` with ``top_codes = K_top``
   and ``top_factor = b``: the whole top grid's features, upsampled, join every block's
   gate biases (see :mod:`oasis_helpers.prior.model`), so it models
   ``p(c | t) = prod_{i, j} p(c[i, j] | c[<i, :], c[i, <j], t, position)``.

Sampling (:func:`sample_two_level`): ``t ~ p(t | height)`` with the fast sampler, then
``c ~ p(c | t, height)`` with the fast sampler, then ``vqvae.decode(c)``. Likelihood: the
fine prior's bits per code are those given the true top grid (a conditional likelihood),
the top prior's those of the top grid (:func:`two_level_nll`); the top grid is a function
of the fine grid, so ``-log2 p(c) <= -log2 p(t) - log2 p(c | t)`` per slice, an upper bound
on the joint's code length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.prior.inputs import check_codes, check_positive_int
from oasis_helpers.prior.likelihood import nll_bits_per_code
from oasis_helpers.prior.model import DEFAULT_PRIOR, DEFAULT_PRIOR_TRAINING, make_prior
from oasis_helpers.prior.quality import sample_many

__all__ = [
    "DEFAULT_LAYOUT",
    "LAYOUT_TRAINING",
    "TopQuantizer",
    "block_summaries",
    "decode_layout",
    "fit_top_quantizer",
    "make_two_level_priors",
    "sample_two_level",
    "top_grids",
    "train_two_level",
    "two_level_nll",
]

#: The layout: blocks of ``block x block`` fine codes, quantised to ``top_codes`` centres.
DEFAULT_LAYOUT: dict[str, Any] = {"block": 4, "top_codes": 32, "seed": 0}

#: How each level trains (Adam, cosine schedule, as :data:`DEFAULT_PRIOR_TRAINING`). The
#: fine level has two epochs fewer than the one-level prior, which pays for the top level
#: (a 16x16 grid costs about 1/16 of a 64x64 one per grid), so that both together train in
#: about the one-level prior's time (``benchmarks/layout_prior.py`` measures both).
LAYOUT_TRAINING: dict[str, dict[str, Any]] = {
    "top": {**DEFAULT_PRIOR_TRAINING, "epochs": 16, "steps_per_epoch": 20, "batch_size": 16},
    "fine": {**DEFAULT_PRIOR_TRAINING, "epochs": 14},
}


def block_summaries(
    codes: npt.ArrayLike, codebook: npt.ArrayLike, block: int
) -> npt.NDArray[np.float32]:
    """Mean codebook vector of each ``block x block`` block: ``[N, h, w] -> [N, h/b, w/b, D]``.

    ``codebook`` float ``[K, D]`` (the VQ-VAE's, ``vqvae.quantizer.embeddings``);
    ``h`` and ``w`` must be multiples of ``block``.
    """
    codebook = np.asarray(codebook, np.float32)
    codes = check_codes(codes, len(codebook))
    block = check_positive_int("block", block)
    count, height, width = codes.shape
    if height % block or width % block:
        raise ValueError(f"grids {height}x{width} are not multiples of block={block}")
    vectors = codebook[codes]  # [N, h, w, D]
    shaped = vectors.reshape(count, height // block, block, width // block, block, -1)
    return shaped.mean(axis=(2, 4))


@dataclass(frozen=True)
class TopQuantizer:
    """The map from fine grids to top grids: block means of codebook vectors, nearest centre.

    Attributes:
        codebook: float32 ``[K, D]``, the VQ-VAE's codebook.
        centres: float32 ``[K_top, D]``, the k-means centres of the block summaries.
        block: ``b``, fine codes per top code along each side.
    """

    codebook: npt.NDArray[np.float32]
    centres: npt.NDArray[np.float32]
    block: int

    @property
    def top_codes(self) -> int:
        """``K_top``, the number of top codes."""
        return int(len(self.centres))

    def __call__(self, codes: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """Top grids int32 ``[N, h/b, w/b]`` of fine grids ``[N, h, w]``: nearest centre
        ``argmin_k ||s - m_k||^2`` of each block's summary ``s`` (ties: the lowest ``k``)."""
        summaries = block_summaries(codes, self.codebook, self.block)
        flat = summaries.reshape(-1, summaries.shape[-1])
        distances = (
            (flat**2).sum(1, keepdims=True) - 2 * flat @ self.centres.T + (self.centres**2).sum(1)
        )
        return distances.argmin(axis=1).astype(np.int32).reshape(summaries.shape[:3])


def fit_top_quantizer(
    train_codes: npt.ArrayLike,
    codebook: npt.ArrayLike,
    block: int = DEFAULT_LAYOUT["block"],
    top_codes: int = DEFAULT_LAYOUT["top_codes"],
    seed: int = DEFAULT_LAYOUT["seed"],
) -> TopQuantizer:
    """k-means (scikit-learn ``MiniBatchKMeans``, ``random_state=seed``, 3 inits) of the block
    summaries of the *training* grids ``[N, h, w]`` into ``top_codes`` centres.

    The same grids, codebook and seed give the same centres.
    """
    from sklearn.cluster import MiniBatchKMeans

    top_codes = check_positive_int("top_codes", top_codes, 2)
    summaries = block_summaries(train_codes, codebook, block)
    flat = summaries.reshape(-1, summaries.shape[-1]).astype(np.float64)
    kmeans = MiniBatchKMeans(
        n_clusters=top_codes, random_state=int(seed), n_init=3, batch_size=4096, max_iter=200
    ).fit(flat)
    return TopQuantizer(
        np.asarray(codebook, np.float32), kmeans.cluster_centers_.astype(np.float32), int(block)
    )


def top_grids(grids, quantizer: TopQuantizer, path: str | os.PathLike | None = None):
    """``grids`` (``code_grids.CodeGrids``) with each split's codes replaced by its top grids.

    Heights, subjects and slice ids stay; ``num_embeddings`` becomes ``K_top`` and
    ``downsample`` grows by ``block``. ``path`` names the run of a prior trained on them
    (``train_prior`` keys its folder on it); by default ``grids.path`` with the quantizer's
    settings appended.
    """
    splits = {
        name: replace(split, codes=quantizer(split.codes)) for name, split in grids.splits.items()
    }
    name = path or f"{grids.path}#top{quantizer.top_codes}x{quantizer.block}"
    return replace(
        grids,
        splits=splits,
        num_embeddings=quantizer.top_codes,
        downsample=grids.downsample * quantizer.block,
        path=name,
    )


def make_two_level_priors(
    num_embeddings: int,
    top_codes: int = DEFAULT_LAYOUT["top_codes"],
    block: int = DEFAULT_LAYOUT["block"],
    top_learning_rate: float = LAYOUT_TRAINING["top"]["learning_rate"],
    fine_learning_rate: float = LAYOUT_TRAINING["fine"]["learning_rate"],
    **config,
):
    """``(top, fine)``: compiled priors, both :data:`DEFAULT_PRIOR` updated with ``config``.

    ``top`` models ``K_top`` top codes; ``fine`` models ``num_embeddings`` codes given a
    top grid (``top_codes = K_top``, ``top_factor = block``).
    """
    settings = {**DEFAULT_PRIOR, **config}
    top = make_prior(top_learning_rate, **{**settings, "num_embeddings": top_codes})
    fine = make_prior(
        fine_learning_rate,
        **{**settings, "num_embeddings": num_embeddings},
        top_codes=top_codes,
        top_factor=block,
    )
    return top, fine


def train_two_level(top, fine, grids, quantizer: TopQuantizer, base_dir, settings=None, **options):
    """Train both levels on ``grids`` (``code_grids.CodeGrids``); ``(top_result, fine_result)``.

    The top prior trains on :func:`top_grids` with ``settings["top"]``, the fine prior on
    the fine grids and their true top grids with ``settings["fine"]`` (default
    :data:`LAYOUT_TRAINING`; each needs ``seed`` too), both with
    :func:`~oasis_helpers.prior.train_prior` under ``base_dir``.
    """
    from oasis_helpers.prior.fitting import train_prior

    settings = settings or LAYOUT_TRAINING
    layout = top_grids(grids, quantizer)
    top_result = train_prior(top, layout, os.path.join(base_dir, "top"), settings["top"], **options)
    fine_result = train_prior(
        fine, grids, os.path.join(base_dir, "fine"), settings["fine"], top_grids=layout, **options
    )
    return top_result, fine_result


def sample_two_level(
    top,
    fine,
    count: int,
    height: int,
    width: int,
    block: int,
    slice_heights: npt.ArrayLike | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    top_temperature: float | None = None,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """``(fine codes [count, h, w], top codes [count, h/b, w/b])``: the layout first, then
    the fine grid given it, both with the fast sampler (:func:`~oasis_helpers.prior.sample_many`,
    seeds ``seed`` and ``seed + 1000``).

    ``temperature`` divides the fine prior's logits, ``top_temperature`` (default: the same)
    the top prior's: below 1 it draws more typical layouts.
    """
    top_temperature = temperature if top_temperature is None else top_temperature
    layout = sample_many(
        top, count, height // block, width // block, slice_heights, top_temperature, seed=seed
    )
    codes = sample_many(
        fine, count, height, width, slice_heights, temperature, seed=seed + 1000, top_codes=layout
    )
    return codes, layout


def decode_layout(vqvae, quantizer: TopQuantizer, top_codes) -> npt.NDArray[np.float32]:
    """What a top grid says, as an image: each top code's centre (a mean codebook vector)
    repeated over its ``b x b`` block and passed through the VQ-VAE's decoder.

    ``top_codes`` int ``[N, h/b, w/b]`` -> float32 ``[N, S, S, 1]``: a blurred slice that
    shows the layout the fine prior is given (the decoder never saw such averaged vectors,
    so it is a picture of the layout, not a reconstruction).
    """
    top_codes = check_codes(top_codes, quantizer.top_codes, "top_codes")
    field = quantizer.centres[top_codes]  # [N, h/b, w/b, D]
    field = np.repeat(np.repeat(field, quantizer.block, axis=1), quantizer.block, axis=2)
    return np.asarray(vqvae.decoder(field, training=False), np.float32)


def two_level_nll(top, fine, quantizer: TopQuantizer, codes, slice_heights=None) -> dict:
    """Bits per code of both levels on fine grids ``[N, h, w]``.

    ``top_bits_per_top_code``: ``-log2 p(t)`` per top code; ``fine_bits_per_code_given_top``:
    ``-log2 p(c | t)`` per fine code, ``t`` the grids' true top grids;
    ``total_bits_per_code``: ``(-log2 p(t) - log2 p(c | t)) / (h w)``, the two-level code
    length per fine code (an upper bound of ``-log2 p(c)``, comparable with the one-level
    prior's bits per code).
    """
    codes = np.asarray(codes, np.int32)
    layout = quantizer(codes)
    top_bits = nll_bits_per_code(top, layout, slice_heights)
    fine_bits = nll_bits_per_code(fine, codes, slice_heights, top_codes=layout)
    ratio = layout[0].size / codes[0].size
    return {
        "top_bits_per_top_code": top_bits,
        "fine_bits_per_code_given_top": fine_bits,
        "total_bits_per_code": fine_bits + ratio * top_bits,
    }
