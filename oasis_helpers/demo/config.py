"""The demo cohort's parameters: :class:`DemoConfig` (whose every field keys the cache) and
:func:`demo_config` (the default and the smoke cohorts), with the splits and the label.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from oasis_helpers.data.slicing import DEFAULT_BRAIN_FILL, DEFAULT_SLICE_RANGE

__all__ = [
    "DEFAULT_SLICES_PER_SUBJECT",
    "DEFAULT_SUBJECTS",
    "DEMO_LABEL",
    "DEMO_VERSION",
    "SMOKE_SLICES_PER_SUBJECT",
    "SMOKE_SUBJECTS",
    "SPLITS",
    "DemoConfig",
    "demo_config",
]


SPLITS = ("train", "validate", "test")

#: Bump when the generator changes, so old cache files are not reused.
DEMO_VERSION = 5

#: The label used in every title, info dict and notebook that shows demo data.
DEMO_LABEL = "demo cohort (MNI152 template under random deformations): a stand-in, not OASIS"

#: Subjects per split and slices per subject of the default and the smoke cohorts.
DEFAULT_SUBJECTS = {"train": 24, "validate": 4, "test": 4}

DEFAULT_SLICES_PER_SUBJECT = 24

SMOKE_SUBJECTS = {"train": 3, "validate": 1, "test": 1}

SMOKE_SLICES_PER_SUBJECT = 8


@dataclass(frozen=True)
class DemoConfig:
    """Every parameter of a demo cohort (the cache key is built from all of them).

    Attributes:
        subjects: number of synthetic subjects per split (distinct subjects).
        slices_per_subject: axial slices kept per subject, evenly spaced over
            ``slice_range``.
        image_size: side of the square output slices in pixels.
        seed: the cohort's seed; subject ``k`` draws from ``rng([seed, k])``.
        slice_range: kept part of the brain's inferior-superior extent, as
            fractions (0 = lowest brain voxel, 1 = top of the brain).
        control_spacing_mm: spacing of the deformation's control points.
        deformation_mm: standard deviation of each control-point displacement.
        rotation_deg: maximum in-plane rotation (out-of-plane: a third of it).
        scale_range: maximum relative scaling per axis (0.08 = +-8%).
        shift_mm: maximum shift per axis.
        gamma_range: range of the intensity gamma.
        bias_strength: amplitude of the multiplicative bias field.
        noise_std: standard deviation of the Gaussian noise inside the brain.
        brain_fill: fraction of the frame side that the template brain spans.
    """

    subjects: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SUBJECTS))
    slices_per_subject: int = DEFAULT_SLICES_PER_SUBJECT
    image_size: int = 256
    seed: int = 42
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE
    control_spacing_mm: float = 24.0
    deformation_mm: float = 2.5
    rotation_deg: float = 6.0
    scale_range: float = 0.08
    shift_mm: float = 4.0
    gamma_range: tuple[float, float] = (0.8, 1.25)
    bias_strength: float = 0.1
    noise_std: float = 0.012
    brain_fill: float = DEFAULT_BRAIN_FILL

    def __post_init__(self) -> None:
        unknown = set(self.subjects) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)} in subjects; use {SPLITS}")
        if any(int(count) < 0 for count in self.subjects.values()):
            raise ValueError(f"subject counts must be >= 0, got {self.subjects}")
        if self.slices_per_subject < 1:
            raise ValueError(f"slices_per_subject must be >= 1, got {self.slices_per_subject}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8 pixels, got {self.image_size}")
        low, high = self.slice_range
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(
                f"slice_range must satisfy 0 <= low < high <= 1, got {self.slice_range}"
            )
        if not 0.1 <= self.brain_fill <= 1.0:
            raise ValueError(f"brain_fill must be in [0.1, 1], got {self.brain_fill}")

    def key(self) -> str:
        """A short hash of every parameter and the generator version (the cache key)."""
        payload = json.dumps({"version": DEMO_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def demo_config(
    image_size: int = 256, seed: int = 42, smoke: bool = False, **overrides
) -> DemoConfig:
    """The default (or, with ``smoke=True``, the tiny) cohort's configuration.

    Default: 24 / 4 / 4 subjects x 24 slices (576 / 96 / 96 slices). Smoke:
    3 / 1 / 1 subjects x 8 slices (24 / 8 / 8). ``overrides`` replace any
    :class:`DemoConfig` field, e.g. ``subjects={"train": 48, ...}``.
    """
    base = {
        "subjects": dict(SMOKE_SUBJECTS if smoke else DEFAULT_SUBJECTS),
        "slices_per_subject": SMOKE_SLICES_PER_SUBJECT if smoke else DEFAULT_SLICES_PER_SUBJECT,
    }
    base.update(overrides)
    if "subjects" in overrides:
        base["subjects"] = {split: int(overrides["subjects"].get(split, 0)) for split in SPLITS}
    if "slice_range" in base:
        base["slice_range"] = tuple(float(value) for value in base["slice_range"])
    if "gamma_range" in base:
        base["gamma_range"] = tuple(float(value) for value in base["gamma_range"])
    return DemoConfig(image_size=int(image_size), seed=int(seed), **base)
