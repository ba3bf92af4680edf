"""The embedded demo cohort: a stand-in for OASIS built from the MNI152 template.

The series must run anywhere without downloading anything, so when no
``data_dir`` is given the notebooks use synthetic "subjects" made from the
MNI ICBM152 2009 T1 template (and its grey- and white-matter probability maps)
that ship inside the nilearn wheel. **This is not OASIS**: every subject is the
same template brain, varied by

* a smooth random 3D deformation ``u(p)``: a coarse grid of Gaussian random
  displacements (one control point every ``control_spacing_mm``) interpolated
  with cubic splines, so anatomy bends a few millimetres without tearing;
* a small affine ``A``: rotation, anisotropic scaling and a shift;
* an intensity curve: ``v' = b(p) * v ** gamma`` with a per-subject gamma and a
  smooth multiplicative bias field ``b`` (like the gain field of an MR coil),
  a little Gaussian noise inside the brain, then robust scaling to ``[0, 1]``.

A subject's voxel ``p`` (in output, i.e. subject, space) is read from the
template at ``A (p - c) + c + s + u(p)`` where ``c`` is the brain centre and
``s`` the shift. Only the axial planes that are kept are evaluated, which keeps
building fast. The slices are framed like the OASIS PNG slices (brain centred,
filling about 70% of a square frame) and quantized to 8 bits like those PNGs.

Tissue masks (0 background, 1 CSF, 2 grey matter, 3 white matter; the OASIS
label convention) come from the template's tissue maps (CSF: brain voxels that
are neither grey nor white matter) warped by the same transform.

Cohorts are deterministic from their seed and cached as ``.npz`` under
``$OASIS_VQVAE_CACHE`` (default ``~/.cache/oasis-vqvae``), keyed by every
parameter, so a second run loads in well under a second.

Modules, one idea each:

* :mod:`~oasis_helpers.demo.config`: the parameters, :class:`DemoConfig` and
  :func:`demo_config`, with :data:`SPLITS` and :data:`DEMO_LABEL`;
* :mod:`~oasis_helpers.demo.template`: the MNI152 template from the nilearn wheel
  (:func:`read_mni152_files`, :func:`load_template`);
* :mod:`~oasis_helpers.demo.subject`: one synthetic subject (:func:`build_subject`);
* :mod:`~oasis_helpers.demo.cohort`: the cohort, built or read from the cache
  (:func:`build_demo_cohort`, :class:`DemoCohort`, :func:`cache_dir`, :func:`write_cache`).
"""

from oasis_helpers.demo.cohort import DemoCohort, build_demo_cohort, cache_dir, write_cache
from oasis_helpers.demo.config import (
    DEFAULT_SLICES_PER_SUBJECT,
    DEFAULT_SUBJECTS,
    DEMO_LABEL,
    DEMO_VERSION,
    SMOKE_SLICES_PER_SUBJECT,
    SMOKE_SUBJECTS,
    SPLITS,
    DemoConfig,
    demo_config,
)
from oasis_helpers.demo.subject import build_subject
from oasis_helpers.demo.template import BrainTemplate, load_template, read_mni152_files

__all__ = [
    "DEFAULT_SLICES_PER_SUBJECT",
    "DEFAULT_SUBJECTS",
    "DEMO_LABEL",
    "DEMO_VERSION",
    "SMOKE_SLICES_PER_SUBJECT",
    "SMOKE_SUBJECTS",
    "SPLITS",
    "BrainTemplate",
    "DemoCohort",
    "DemoConfig",
    "build_demo_cohort",
    "build_subject",
    "cache_dir",
    "demo_config",
    "load_template",
    "read_mni152_files",
    "write_cache",
]
