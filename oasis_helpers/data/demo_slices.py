"""The embedded demo cohort (:mod:`oasis_helpers.demo`) as a :class:`SliceSource`.

``data_dir=None`` loads it: a stand-in built from the MNI152 template, **not OASIS**.
The cohort is already 8-bit, so its slices are stored as they are.
"""

from __future__ import annotations

import os
import time

import numpy as np

from oasis_helpers.data.containers import SliceSource, SliceSplit
from oasis_helpers.data.layouts import SPLITS
from oasis_helpers.data.summary import inspect_source


def load_demo_slices(
    image_size: int = 256,
    seed: int = 42,
    smoke: bool = False,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    with_masks: bool = True,
    **demo_overrides,
) -> SliceSource:
    """The embedded demo cohort as a :class:`SliceSource` (a stand-in, not OASIS).

    ``demo_overrides`` replace :class:`oasis_helpers.demo.DemoConfig` fields
    (e.g. ``subjects={"train": 48, "validate": 8, "test": 8}``).
    """
    from oasis_helpers import demo

    begin = time.perf_counter()
    config = demo.demo_config(image_size=image_size, seed=seed, smoke=smoke, **demo_overrides)
    cohort = demo.build_demo_cohort(config, use_cache=use_cache, cache_folder=cache_dir)
    splits = {}
    for split in SPLITS:
        pixels = cohort.images[split][..., None]  # uint8 [N, S, S, 1], no copy
        subject_ids = cohort.subject_ids[split]
        slice_ids = cohort.slice_ids[split]
        splits[split] = SliceSplit(
            pixels=pixels,
            subject_ids=subject_ids,
            slice_ids=slice_ids,
            masks=cohort.masks[split] if with_masks else None,
            files=[f"demo/{s}/slice_{k:02d}" for s, k in zip(subject_ids, slice_ids, strict=True)],
            mask_present=np.ones(len(pixels), bool) if with_masks else None,
        )
    info = {
        "source_counts": {split: len(splits[split]) for split in SPLITS},
        "source_subjects": {split: len(splits[split].subjects) for split in SPLITS},
        "source_subject_ids": {split: splits[split].subjects for split in SPLITS},
        "original_sizes": {f"{image_size}x{image_size}": sum(len(s) for s in splits.values())},
        "resized": 0,
        "missing_masks": [],
        "ignored_files": [],
        "skipped": [],
        "demo_config": {
            "subjects": dict(config.subjects),
            "slices_per_subject": config.slices_per_subject,
            "key": config.key(),
        },
        "demo_from_cache": cohort.from_cache,
        "demo_build_seconds": cohort.seconds,
        "demo_cache_file": str(cohort.path) if cohort.path else None,
        "load_seconds": time.perf_counter() - begin,
    }
    source = SliceSource("demo", None, image_size, splits, info=info)
    source.info = inspect_source(source)
    return source
