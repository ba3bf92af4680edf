"""The entry point: :func:`load_slices` loads whatever supported layout ``data_dir`` holds."""

from __future__ import annotations

import os

from oasis_helpers.data.containers import SliceSource
from oasis_helpers.data.demo_slices import load_demo_slices
from oasis_helpers.data.layouts import SPLIT_FRACTIONS, check_on_error, detect_layout
from oasis_helpers.data.png import load_png_slices
from oasis_helpers.data.slicing import (
    DEFAULT_BRAIN_FILL,
    DEFAULT_SLICE_RANGE,
    DEFAULT_SLICES_PER_VOLUME,
)
from oasis_helpers.data.volumes import load_volume_slices

#: The smallest ``image_size`` the loaders accept (pixels).
MIN_IMAGE_SIZE = 8


def check_image_size(image_size) -> int:
    """``image_size`` as an int, or a ValueError naming it and its allowed range."""
    try:
        whole = int(image_size) == image_size and not isinstance(image_size, bool)
    except (TypeError, ValueError):
        whole = False
    if not whole or image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be a whole number of pixels >= {MIN_IMAGE_SIZE}, got {image_size!r}"
        )
    return int(image_size)


def load_slices(
    data_dir: str | os.PathLike | None = None,
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    on_error: str = "raise",
    *,
    split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    slices_per_volume: int | None = DEFAULT_SLICES_PER_VOLUME,
    slice_range: tuple[float, float] = DEFAULT_SLICE_RANGE,
    brain_fill: float = DEFAULT_BRAIN_FILL,
    workers: int | None = None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    with_masks: bool = True,
    **demo_overrides,
) -> SliceSource:
    """Load the slices of whatever supported layout ``data_dir`` holds.

    Args:
        data_dir: a folder in one of the layouts of :data:`LAYOUT_TREES`, or
            ``None`` for the embedded demo cohort (a stand-in, not OASIS).
        image_size: side of the square output slices.
        seed: seeds the subject split of volumes and the demo cohort.
        smoke: a tiny source (3 / 1 / 1 subjects, 8 slices each) for quick tests.
        on_error: ``"raise"`` on the first unreadable file (the error names it),
            or ``"skip"`` unreadable files with one warning that counts them.
        split_fractions: train / validate / test fractions of subjects (volumes).
        slices_per_volume: evenly spaced axial slices per volume (``None``: all).
        slice_range: kept part of each brain's inferior-superior extent (volumes).
        brain_fill: fraction of the frame that a volume's brain spans.
        workers: threads for decoding / reading (default from the CPU count).
        use_cache, cache_dir: the demo cohort's on-disk cache.
        with_masks: load the tissue masks where the source has them. ``False``
            leaves every split's ``masks`` ``None`` and saves as much memory as the
            slices take (0.74 GB for the full OASIS PNG set): for notebooks that
            use no masks.
        demo_overrides: fields of :class:`oasis_helpers.demo.DemoConfig` (demo only).

    Returns:
        A :class:`SliceSource` whose splits store uint8 pixels ``[N, S, S, 1]``
        (``image = pixels / 255``; ``split.images[indices]`` gives float32 images in
        ``[0, 1]``); ``source.info`` is its :func:`inspect_source` summary.

    Raises:
        ValueError: ``image_size`` below 8 or not whole, ``slices_per_volume`` below 1,
            ``on_error`` not ``"raise"`` / ``"skip"``.
        DataLayoutError: ``data_dir`` is missing, empty or in no supported layout.
        UnreadableFileError: a file is truncated, corrupt or holds NaN / inf voxels.
    """
    check_on_error(on_error)
    image_size = check_image_size(image_size)
    if slices_per_volume is not None and (
        isinstance(slices_per_volume, bool)
        or int(slices_per_volume) != slices_per_volume
        or slices_per_volume < 1
    ):
        raise ValueError(
            f"slices_per_volume must be a whole number >= 1 (or None for every slice), "
            f"got {slices_per_volume!r}"
        )
    if demo_overrides and data_dir is not None:
        raise TypeError(
            f"options {sorted(demo_overrides)} only apply to the demo cohort (data_dir=None)"
        )
    layout, root = detect_layout(data_dir)
    if layout == "demo":
        return load_demo_slices(
            image_size,
            seed,
            smoke,
            use_cache=use_cache,
            cache_dir=cache_dir,
            with_masks=with_masks,
            **demo_overrides,
        )
    if layout == "png_slices":
        return load_png_slices(
            root, image_size, smoke=smoke, on_error=on_error, workers=workers, with_masks=with_masks
        )
    return load_volume_slices(
        root,
        layout,
        image_size=image_size,
        seed=seed,
        smoke=smoke,
        on_error=on_error,
        split_fractions=split_fractions,
        slices_per_volume=slices_per_volume,
        slice_range=slice_range,
        brain_fill=brain_fill,
        workers=workers,
        with_masks=with_masks,
    )
