"""Which axial slices a brain volume gives and how they are framed: the defaults that the
volume loaders (:mod:`~oasis_helpers.data.volumes`, behind :func:`~oasis_helpers.data.load_slices`)
and the demo cohort (:mod:`oasis_helpers.demo`) share.

:data:`DEFAULT_SLICES_PER_VOLUME` slices are taken, evenly spaced over
:data:`DEFAULT_SLICE_RANGE` of the brain's inferior-superior extent (0 = the lowest slice
that holds brain, 1 = the top one), and each is framed like the OASIS PNG slices: the
brain centred in a square frame, its bounding box spanning :data:`DEFAULT_BRAIN_FILL` of the
frame's side. The demo cohort frames its template brain the same way (and keeps
``slices_per_subject`` of its own), so that its slices look like slices loaded from volumes.
"""

from __future__ import annotations

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
