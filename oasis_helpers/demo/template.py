"""The MNI152 template that every demo subject is made from, read from the nilearn wheel.

:func:`read_mni152_files` reads the T1, grey- and white-matter maps (no network);
:func:`load_template` scales, labels and crops them to the brain (a :class:`BrainTemplate`,
kept in memory for the session).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "BrainTemplate",
    "load_template",
    "read_mni152_files",
]


@dataclass
class BrainTemplate:
    """The template cropped to the brain: T1 ``[X, Y, Z]`` in [0, 1] and tissue labels."""

    t1: np.ndarray  # float32 [X, Y, Z], RAS voxel axes, 1 mm
    labels: np.ndarray  # uint8 [X, Y, Z], 0 bg, 1 CSF, 2 GM, 3 WM
    brain_low_z: int  # first and last axial plane holding brain
    brain_high_z: int
    centre: np.ndarray  # float [3], centre of the brain bounding box (voxels)
    extent: np.ndarray  # float [3], size of the brain bounding box (voxels)


_TEMPLATE_CACHE: dict[str, BrainTemplate] = {}

_MNI152_FILES = (
    "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
)


def read_mni152_files() -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]
]:
    """The MNI152 T1, grey- and white-matter templates: float32 ``[197, 233, 189]`` in [0, 1].

    These are the files behind ``nilearn.datasets.load_mni152_template()``,
    ``load_mni152_gm_template()`` and ``load_mni152_wm_template()`` at their native
    1 mm resolution, inside the nilearn wheel (no network). They are read with
    nibabel directly when found, which skips importing ``nilearn.datasets`` (a few
    seconds); otherwise the nilearn functions are called.
    """
    import importlib.util

    import nibabel as nib

    spec = importlib.util.find_spec("nilearn")
    if spec is None:
        raise ImportError(
            "the demo cohort needs nilearn (it ships the MNI152 template): pip install nilearn"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    paths = [folder / name for name in _MNI152_FILES]
    if all(path.exists() for path in paths):
        volumes = [np.asarray(nib.load(path).dataobj, dtype=np.float32) for path in paths]
        # scaled by their maxima, exactly like the nilearn loaders
        return tuple(volume / max(float(volume.max()), 1e-6) for volume in volumes)
    from nilearn.datasets import (
        load_mni152_gm_template,
        load_mni152_template,
        load_mni152_wm_template,
    )

    loaders = (load_mni152_template, load_mni152_gm_template, load_mni152_wm_template)
    return tuple(np.asarray(loader().dataobj, dtype=np.float32) for loader in loaders)


def load_template() -> BrainTemplate:
    """Load the MNI152 T1 and tissue templates shipped with nilearn (no network).

    The T1 is scaled to ``[0, 1]``; tissue labels are the argmax of (CSF = brain
    minus grey minus white, grey, white) inside the brain (T1 > 0.02). The result
    is cropped to the brain's bounding box plus a 4-voxel zero margin and kept in
    memory for the rest of the session.
    """
    if "mni152" in _TEMPLATE_CACHE:
        return _TEMPLATE_CACHE["mni152"]
    t1, grey, white = read_mni152_files()
    t1 /= max(float(t1.max()), 1e-6)

    brain = t1 > 0.02
    csf = np.clip(1.0 - grey - white, 0.0, 1.0)
    labels = (np.argmax(np.stack([csf, grey, white]), axis=0) + 1).astype(np.uint8)
    labels[~brain] = 0

    corners = np.argwhere(brain)
    low, high = corners.min(axis=0), corners.max(axis=0)
    margin = 4
    start = np.maximum(low - margin, 0)
    stop = np.minimum(high + margin + 1, brain.shape)
    crop = tuple(slice(begin, end) for begin, end in zip(start, stop, strict=True))
    template = BrainTemplate(
        t1=np.ascontiguousarray(t1[crop]),
        labels=np.ascontiguousarray(labels[crop]),
        brain_low_z=int(low[2] - start[2]),
        brain_high_z=int(high[2] - start[2]),
        centre=(low + high) / 2.0 - start,
        extent=(high - low + 1).astype(float),
    )
    _TEMPLATE_CACHE["mni152"] = template
    return template
