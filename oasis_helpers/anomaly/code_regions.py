"""Which codes of a grid are brain and which are lesion: one definition of each.

Used by the restoration region and the thresholds (:mod:`oasis_helpers.anomaly.pipeline`),
the code-level AUROC (:mod:`oasis_helpers.anomaly.evaluation`), notebook 05 and
``benchmarks/anomaly.py``. A code grid ``[N, h, w]`` encodes slices ``[N, H, W]`` with
``H = f h``: each code stands for an ``f x f`` block of pixels.

:func:`brain_codes` are the codes whose ``f x f`` pixel block holds any pixel of the
(uneroded) brain: where restoration may resample, where the healthy thresholds are
taken and which codes the code-level AUROC ranks. :func:`lesion_codes` are the codes
whose block lies at least :data:`LESION_CODE_COVERAGE` (a quarter) in a lesion mask:
the positives of the code-level AUROC, the oracle region of the benchmark, the lesion
codes that restoration is counted as resampling. The other brain codes,
``brain & ~lesion``, are the healthy ones. Each function's docstring says why.
:func:`code_region` and :func:`covered_codes` are the block rules they use.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oasis_helpers.anomaly.inputs import as_map_batch
from oasis_helpers.anomaly.lesions import brain_region

__all__ = [
    "LESION_CODE_COVERAGE",
    "brain_codes",
    "code_region",
    "covered_codes",
    "lesion_codes",
]

#: Share of a code's ``f x f`` pixel block that a lesion mask must cover for the code to be
#: a lesion code (:func:`lesion_codes`): 4 of the 16 pixels at ``downsample = 4``.
LESION_CODE_COVERAGE = 0.25


def code_region(region: npt.ArrayLike, grid_shape) -> npt.NDArray[np.bool_]:
    """The code positions whose ``f x f`` block of pixels touches ``region``.

    Args:
        region: bool ``[N, H, W]`` (e.g. :func:`brain_region` with ``erosion=0``).
        grid_shape: ``(h, w)`` with ``H = f h`` and ``W = f w``.

    Returns:
        bool ``[N, h, w]``.

    The brain codes are :func:`brain_codes`; this is the block rule it uses.
    """
    region = as_map_batch(region, "region").astype(bool)
    count, height, width = region.shape
    grid_height, grid_width = grid_shape
    if height % grid_height or width % grid_width:
        raise ValueError(
            f"the image {height}x{width} must be a multiple of the code grid "
            f"{grid_height}x{grid_width}"
        )
    rows, cols = height // grid_height, width // grid_width
    return region.reshape(count, grid_height, rows, grid_width, cols).any(axis=(2, 4))


def brain_codes(images: npt.ArrayLike, grid_shape) -> npt.NDArray[np.bool_]:
    """The brain codes: the codes whose ``f x f`` pixel block holds any brain pixel.

    ``code_region(brain_region(images, erosion=0), grid_shape)``: a block that touches the
    filled, uneroded brain (``x > metrics.BRAIN_THRESHOLD``) at one pixel or more.

    Why any pixel, and the uneroded brain: the brain codes are (1) where restoration may
    resample (:func:`anomaly_maps`), (2) the healthy validation codes whose probabilities
    set the restoration and flag thresholds (:func:`choose_restoration_threshold`), and
    (3) the codes that :func:`code_level_auroc` ranks. Every code whose block holds brain
    decodes part of the brain, and the maps are scored on every pixel of the eroded brain;
    a stricter rule would forbid healing the edge codes, whose blocks are part
    background, although their brain pixels are scored. The erosion keeps the
    skull-stripping edge out of the *pixel* evaluation only. (2) must be the same set as
    (1), since a threshold is a quantile of the codes it is applied to. Lesions are drawn
    inside the eroded brain, so every synthetic lesion code is a brain code.

    Args:
        images: ``[N, H, W, 1]`` or ``[N, H, W]`` intensities in ``[0, 1]``.
        grid_shape: ``(h, w)`` with ``H = f h`` and ``W = f w``.

    Returns:
        bool ``[N, h, w]``.
    """
    region = brain_region(images, erosion=0)
    return code_region(region[None] if region.ndim == 2 else region, grid_shape)


def covered_codes(
    masks: npt.ArrayLike, grid_shape, coverage: float = 0.25
) -> npt.NDArray[np.bool_]:
    """The codes whose ``f x f`` pixel block lies at least ``coverage`` in the mask.

    Args:
        masks: bool ``[N, H, W]`` with ``H = f h`` and ``W = f w``.
        grid_shape: ``(h, w)``.
        coverage: in ``(0, 1]`` (``1 / f**2``: every code a mask pixel touches, like
            :func:`code_region`).

    Returns:
        bool ``[N, h, w]``.

    The lesion codes are :func:`lesion_codes`, this at :data:`LESION_CODE_COVERAGE`.
    """
    masks = np.asarray(masks, bool)
    height, width = grid_shape
    factor = masks.shape[1] // height if masks.ndim == 3 and height else 0
    if factor < 1 or masks.shape[1:] != (height * factor, width * factor):
        raise ValueError(f"masks {masks.shape} are not a whole multiple of the grids {grid_shape}")
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    blocks = masks.reshape(len(masks), height, factor, width, factor)
    return blocks.mean(axis=(2, 4)) >= coverage


def lesion_codes(masks: npt.ArrayLike, grid_shape) -> npt.NDArray[np.bool_]:
    """The lesion codes: the codes whose ``f x f`` pixel block lies at least a quarter
    (:data:`LESION_CODE_COVERAGE`) in the lesion mask.

    ``covered_codes(masks, grid_shape, LESION_CODE_COVERAGE)``. A code the mask only
    touches (one pixel of a lesion's soft rim, where the blend weight falls to
    :data:`MIN_ALPHA`) is not one: it counts among the other, healthy brain codes.

    Why a quarter and not any pixel: the lesion codes are (1) the positives of
    :func:`code_level_auroc`, which measures how well a flagger finds what restoration must
    heal, (2) the oracle region of ``benchmarks/anomaly.py`` (the lesion codes and their
    neighbours, as :func:`restoration_region` dilates flags), and (3) the lesion codes that
    notebook 05 and the benchmark count restoration as resampling. A code summarises its
    block, so a block of a few faint lesion pixels in healthy tissue is usually encoded
    as its healthy self: there is nothing in the code grid for a flagger to find, and
    counting such codes would score every flagger, and every restoration, on codes the
    grid does not tell apart from healthy ones. A block a quarter covered is one the
    lesion changes; the dilation of the restoration region (and of the oracle) still
    reaches the touched codes next to it.

    Args:
        masks: bool ``[N, H, W]`` with ``H = f h`` and ``W = f w``.
        grid_shape: ``(h, w)``.

    Returns:
        bool ``[N, h, w]``.
    """
    return covered_codes(masks, grid_shape, LESION_CODE_COVERAGE)
