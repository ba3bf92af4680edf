"""Lesions of stated kinds: size, contrast, edge and shape, one lesion a slice.

:func:`~oasis_helpers.anomaly.lesions.synthesize_lesions` draws the series' own lesions
(irregular blobs of modest additive contrast); a detector tuned on them can fail on
lesions of other kinds. A :class:`LesionKind` names one kind, and
:func:`draw_lesion_kind` draws it into healthy slices, so a study can ask which kinds a
map finds (``benchmarks/lesion_kinds.py``).

Geometry. A lesion of radius ``r`` centred at ``c`` has, at pixel ``p``, the signed
distance (in pixels, positive inside) ``d(p) = r (1 - rho / outline(phi))``, with
``rho`` the normalised radial coordinate of the shape (``|p - c| / r`` for a disc; a
rotated ellipse of axis ratio :data:`ELLIPSE_ASPECT` with the same area; for
``irregular``, the outline ``1 + sum_k a_k cos(k phi + phi_k)`` of a few harmonics).

Edge. ``hard``: blend weight ``alpha = [d >= 0]``. ``smooth``: ``alpha = smoothstep((d +
w / 2) / w)`` over a margin ``w = max(2, r / 2)`` pixels, so that ``alpha = 1/2`` on the
outline. The mask is ``d >= 0`` inside the eroded brain in both cases (the half-blend
contour, as an annotator would draw a blurred lesion).

Intensity. ``add``: ``x' = clip(x + alpha * value, 0, 1)``, a signed contrast on the
tissue's own texture; ``set``: ``x' = (1 - alpha) x + alpha * value``, a lesion of
constant intensity ``value`` (near 1: bright, e.g. a hyperintense lesion; near 0: dark,
e.g. a cavity), which erases the texture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.anomaly.inputs import as_image_batch
from oasis_helpers.anomaly.lesions import (
    DEFAULT_EROSION,
    brain_region,
    outline_radius,
    smoothstep,
)
from oasis_helpers.metrics import BRAIN_THRESHOLD

__all__ = [
    "EDGES",
    "ELLIPSE_ASPECT",
    "INTENSITIES",
    "REFERENCE_KIND",
    "SHAPES",
    "LesionKind",
    "draw_lesion_kind",
    "draw_mixed_lesions",
    "study_kinds",
]

INTENSITIES = ("add", "set")
EDGES = ("smooth", "hard")
SHAPES = ("disc", "ellipse", "irregular")
#: Long over short axis of an ``ellipse`` lesion.
ELLIPSE_ASPECT = 2.5


@dataclass(frozen=True)
class LesionKind:
    """One kind of lesion.

    Attributes:
        radius: pixels (for an ellipse or an irregular blob, of the disc of equal area).
        intensity: ``"add"`` (signed contrast ``value`` in ``[-1, 1]``) or ``"set"``
            (constant intensity ``value`` in ``[0, 1]``).
        value: see ``intensity``.
        edge: ``"smooth"`` or ``"hard"``.
        shape: ``"disc"``, ``"ellipse"`` or ``"irregular"``.
    """

    radius: float
    intensity: str
    value: float
    edge: str = "smooth"
    shape: str = "disc"

    def __post_init__(self) -> None:
        if not 1.0 <= float(self.radius) <= 64.0:
            raise ValueError(f"radius must lie in [1, 64] pixels, got {self.radius}")
        if self.intensity not in INTENSITIES:
            raise ValueError(f"intensity must be one of {INTENSITIES}, got {self.intensity!r}")
        low = -1.0 if self.intensity == "add" else 0.0
        if not low <= float(self.value) <= 1.0 or (self.intensity == "add" and self.value == 0):
            raise ValueError(
                f"value must lie in [{low:g}, 1] (non-zero for 'add'), got {self.value}"
            )
        if self.edge not in EDGES:
            raise ValueError(f"edge must be one of {EDGES}, got {self.edge!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")

    @property
    def name(self) -> str:
        """A short label, e.g. ``r8 set 0.95 smooth disc``."""
        value = f"{self.value:+g}" if self.intensity == "add" else f"{self.value:g}"
        return f"r{self.radius:g} {self.intensity} {value} {self.edge} {self.shape}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}


#: The kind every other kind of :func:`study_kinds` differs from in one factor: a smooth
#: disc of radius 8 px set close to white (the kind the series' synthesiser never draws).
REFERENCE_KIND = LesionKind(radius=8, intensity="set", value=0.95)


def study_kinds(reference: LesionKind = REFERENCE_KIND) -> list[LesionKind]:
    """The kinds of the lesion-kind study: ``reference`` and its one-factor variations.

    Size (radius 2 to 20 px), intensity (additive contrasts ``+-0.15``, ``+-0.4``;
    constant near white, near black and mid grey), edge (hard) and shape (ellipse,
    irregular), each varied alone; no kind twice.
    """
    kinds = [replace(reference, radius=radius) for radius in (2, 4, 8, 12, 16, 20)]
    kinds += [replace(reference, intensity="add", value=v) for v in (0.15, -0.15, 0.4, -0.4)]
    kinds += [replace(reference, intensity="set", value=v) for v in (0.95, 0.05, 0.5)]
    kinds += [replace(reference, edge="hard")]
    kinds += [replace(reference, shape=shape) for shape in ("ellipse", "irregular")]
    unique: list[LesionKind] = []
    for kind in kinds:
        if kind not in unique:
            unique.append(kind)
    return unique


def _signed_distance(kind: LesionKind, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """``d`` (pixels, > 0 inside) on a ``[2R+1, 2R+1]`` patch centred on the lesion, and ``R``."""
    radius = float(kind.radius)
    aspect = ELLIPSE_ASPECT if kind.shape == "ellipse" else 1.0
    harmonics = np.arange(2, 6)
    amplitudes = np.zeros(harmonics.size)
    if kind.shape == "irregular":
        amplitudes = rng.uniform(0.1, 0.35, harmonics.size) / harmonics
    phases = rng.uniform(0.0, 2 * np.pi, harmonics.size)
    angle = rng.uniform(0.0, np.pi)
    axis_a, axis_b = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    margin = max(2.0, radius / 2.0)
    half = int(np.ceil(axis_a * (1.0 + amplitudes.sum()) + margin)) + 1
    ratio = outline_radius(half, axis_a, axis_b, angle, amplitudes, phases)
    return radius * (1.0 - ratio), half


def _blend(distance: np.ndarray, kind: LesionKind) -> np.ndarray:
    if kind.edge == "hard":
        return (distance >= 0).astype(np.float64)
    margin = max(2.0, float(kind.radius) / 2.0)
    return smoothstep((distance + margin / 2.0) / margin)


def draw_lesion_kind(
    images: npt.ArrayLike,
    kind: LesionKind,
    seed: int,
    threshold: float = BRAIN_THRESHOLD,
    erosion: int = DEFAULT_EROSION,
    max_tries: int = 50,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Draw one lesion of ``kind`` into each slice's brain; return the images and masks.

    The centre is a random pixel of the eroded brain (:func:`brain_region`); up to
    ``max_tries`` centres are tried to fit the lesion's mask inside it, after which the
    lesion is cut to the brain. A slice whose brain is smaller than the lesion's area
    gets none.

    Args:
        images: float ``[N, H, W, 1]`` or ``[N, H, W]`` (or one slice) in ``[0, 1]``.
        kind: the lesion's kind.
        seed: the same seed gives the same lesions for the same images.

    Returns:
        ``(lesioned, masks)``: float32 of the input's shape, and bool ``[N, H, W]``
        (``[H, W]`` for one slice), the lesion's outline ``d >= 0`` inside the brain.
    """
    batch, single = as_image_batch(images)
    if batch.size and (np.isnan(batch).any() or batch.min() < 0.0 or batch.max() > 1.0):
        raise ValueError("images must lie in [0, 1] (and hold no NaN)")
    regions = brain_region(batch, threshold, erosion)
    count, height, width = batch.shape
    lesioned, masks = batch.copy(), np.zeros(batch.shape, bool)
    for index, slice_seed in enumerate(np.random.SeedSequence(seed).spawn(count)):
        rng = np.random.default_rng(slice_seed)
        region = regions[index]
        candidates = np.argwhere(region)
        if len(candidates) < np.pi * float(kind.radius) ** 2:
            continue
        distance, half = _signed_distance(kind, rng)
        inside = distance >= 0
        region_padded = np.pad(region, half)
        for _attempt in range(max_tries):
            row, col = candidates[rng.integers(len(candidates))]
            window = (slice(row, row + 2 * half + 1), slice(col, col + 2 * half + 1))
            if not np.any(inside & ~region_padded[window]):
                break
        padded_alpha = np.zeros((height + 2 * half, width + 2 * half))
        padded_inside = np.zeros(padded_alpha.shape, bool)
        padded_alpha[window], padded_inside[window] = _blend(distance, kind), inside
        alpha = padded_alpha[half : half + height, half : half + width] * region
        masks[index] = padded_inside[half : half + height, half : half + width] & region
        tissue = lesioned[index].astype(np.float64)
        if kind.intensity == "add":
            changed = np.clip(tissue + alpha * kind.value, 0.0, 1.0)
        else:
            changed = (1.0 - alpha) * tissue + alpha * kind.value
        lesioned[index] = changed.astype(np.float32)
    if single:
        return lesioned[0].reshape(np.shape(images)), masks[0]
    return lesioned.reshape(np.shape(images)), masks


def draw_mixed_lesions(
    images: npt.ArrayLike,
    kinds: list[LesionKind],
    seed: int,
    lesion_fraction: float = 1.0,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], list[str | None]]:
    """Lesions of a mix of kinds, one kind a slice drawn at random, for validation slices.

    A ``lesion_fraction`` of the slices gets a lesion; the rest stay healthy.

    Returns:
        ``(lesioned, masks, names)``: as :func:`draw_lesion_kind` for a batch, and each
        slice's kind name (``None`` for a healthy slice).
    """
    if not kinds:
        raise ValueError("kinds is empty: give at least one LesionKind")
    if not 0.0 <= lesion_fraction <= 1.0:
        raise ValueError(f"lesion_fraction must be in [0, 1], got {lesion_fraction}")
    batch, single = as_image_batch(images)
    if single:
        raise ValueError("draw_mixed_lesions takes a batch [N, H, W, 1] or [N, H, W]")
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(batch)) < lesion_fraction
    which = rng.integers(len(kinds), size=len(batch))
    lesioned, masks = batch.copy(), np.zeros(batch.shape, bool)
    names: list[str | None] = [None] * len(batch)
    for index in np.flatnonzero(chosen):
        kind = kinds[which[index]]
        image, mask = draw_lesion_kind(batch[index : index + 1], kind, seed + 1 + int(index))
        lesioned[index], masks[index], names[index] = image[0], mask[0], kind.name
    return lesioned.reshape(np.shape(images)), masks, names
