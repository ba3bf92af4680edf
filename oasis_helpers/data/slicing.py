"""Which axial slices a brain volume gives and how they are framed: the defaults that the
volume loaders (:mod:`~oasis_helpers.data.volumes`, behind :func:`~oasis_helpers.data.load_slices`)
and the demo cohort (:mod:`oasis_helpers.demo`) share.

:data:`DEFAULT_SLICES_PER_VOLUME` slices are taken, evenly spaced over
:data:`DEFAULT_SLICE_RANGE` of the brain's inferior-superior extent (0 = the lowest slice
that holds brain, 1 = the top one), and each is framed like the OASIS PNG slices: the
brain centred in a square frame, its bounding box spanning :data:`DEFAULT_BRAIN_FILL` of the
frame's side. A slice's height within its subject is :func:`slice_heights` (0 the lowest
kept slice, 1 the highest), what the models of code grids are conditioned on. The demo
cohort frames its template brain the same way (and keeps
``slices_per_subject`` of its own), so that its slices look like slices loaded from volumes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Evenly spaced axial slices kept per volume (``slices_per_volume``; ``None``: every slice).
DEFAULT_SLICES_PER_VOLUME = 32
#: The part of the brain's inferior-superior extent that the slices are taken from.
DEFAULT_SLICE_RANGE = (0.3, 0.85)
#: Fraction of the square frame's side that the brain's bounding box spans.
DEFAULT_BRAIN_FILL = 0.72

#: A voxel of a volume scaled to ``[0, 1]`` (``scale_intensity``) brighter than this is brain
#: where the loaders find the brain's extent: the axial planes it spans (``slice_range`` is a
#: fraction of them) and its bounding box (which ``brain_fill`` frames). Every voxel above it
#: widens that extent, so it sits above the faint voxels of a scaled background. It is not
#: :data:`oasis_helpers.metrics.BRAIN_THRESHOLD` (0.02), which marks, then dilates, the brain
#: pixels of one slice that the brain-masked scores compare, and wants every brain pixel,
#: dark sulci included. (``data`` does not import ``metrics``: that would import TensorFlow.)
VOLUME_BRAIN_THRESHOLD = 0.05


def slice_heights(subject_ids: npt.ArrayLike, slice_ids: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Normalised axial height of each slice within its subject: float32 ``[N]`` in ``[0, 1]``.

    ``(slice_id - lowest) / (highest - lowest)`` over the slice ids of the same subject
    (among the given slices); 0.5 when a subject has a single slice (or one slice id).
    """
    subject_ids = np.asarray(subject_ids).astype(str)
    slice_ids = np.asarray(slice_ids, dtype=np.int64)
    if subject_ids.shape != slice_ids.shape or subject_ids.ndim != 1:
        raise ValueError(
            f"subject_ids and slice_ids must be 1-D of the same length, got shapes "
            f"{subject_ids.shape} and {slice_ids.shape}"
        )
    heights = np.full(len(slice_ids), 0.5, dtype=np.float32)
    for subject in np.unique(subject_ids):
        members = subject_ids == subject
        lowest, highest = slice_ids[members].min(), slice_ids[members].max()
        if highest > lowest:
            heights[members] = (slice_ids[members] - lowest) / (highest - lowest)
    return heights
