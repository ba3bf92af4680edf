"""What was loaded: :func:`inspect_source` (a summary dict), :func:`describe` (text) and
:func:`loader_metrics` (what notebook 01 writes to its ``metrics.json``)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from oasis_helpers.data.containers import SliceSource
from oasis_helpers.data.layouts import SPLITS


def inspect_source(source: SliceSource) -> dict:
    """Summarise a source: what a user checks before training on it.

    Returns a dict with ``layout``, ``label``, ``stand_in``, ``root``,
    ``image_size``, ``counts`` (slices loaded per split), ``subjects`` (subjects
    loaded per split), ``subject_ids``, ``source_counts`` / ``source_subjects``
    (what the source holds, also when ``smoke`` loaded less), ``original_sizes``
    and ``resized`` (how many images had another size), ``intensity_min`` /
    ``intensity_max`` / ``intensity_mean`` of the loaded images, ``has_masks``,
    ``missing_masks``, ``skipped`` and ``ignored_files``, plus what the loader
    recorded while scanning (e.g. ``color_modes``, ``load_seconds``).
    """
    info = dict(source.info)
    splits = source.splits
    # Computed on the uint8 pixels (no float copy): image = pixels / 255.
    loaded = [split.pixels for split in splits.values() if len(split)]
    minimum = min((int(pixels.min()) / 255.0 for pixels in loaded), default=0.0)
    maximum = max((int(pixels.max()) / 255.0 for pixels in loaded), default=0.0)
    pixel_count = sum(int(pixels.size) for pixels in loaded)
    pixel_sum = sum(int(pixels.sum(dtype=np.uint64)) for pixels in loaded)
    mean = pixel_sum / 255.0 / max(pixel_count, 1)
    all_subjects = [subject for split in splits.values() for subject in split.subjects]
    info.update(
        layout=source.layout,
        label=source.label,
        stand_in=source.stand_in,
        root=str(source.root) if source.root is not None else None,
        image_size=source.image_size,
        counts={name: len(split) for name, split in splits.items()},
        subjects={name: len(split.subjects) for name, split in splits.items()},
        subject_ids={name: split.subjects for name, split in splits.items()},
        subjects_shared_between_splits=sorted(
            subject for subject, count in Counter(all_subjects).items() if count > 1
        ),
        intensity_min=minimum,
        intensity_max=maximum,
        intensity_mean=mean,
        has_masks=any(split.masks is not None for split in splits.values()),
    )
    info.setdefault("source_counts", dict(info["counts"]))
    info.setdefault("source_subjects", dict(info["subjects"]))
    for key in ("missing_masks", "ignored_files", "skipped"):
        info.setdefault(key, [])
    info["missing_mask_count"] = len(info["missing_masks"])
    info["skipped_count"] = len(info["skipped"])
    info["ignored_count"] = len(info["ignored_files"])
    return info


def describe(source: SliceSource) -> str:
    """A short multi-line text summary of a source (for notebook printouts)."""
    info = source.info or inspect_source(source)
    lines = [f"{info['label']}", f"  layout: {info['layout']}   root: {info['root']}"]
    for split in SPLITS:
        lines.append(
            f"  {split:>8}: {info['counts'][split]:6d} slices from "
            f"{info['subjects'][split]:4d} subjects"
            + (
                f"  (source holds {info['source_counts'][split]} slices, "
                f"{info['source_subjects'][split]} subjects)"
                if info["source_counts"].get(split) not in (None, info["counts"][split])
                or info["source_subjects"].get(split) != info["subjects"][split]
                else ""
            )
        )
    lines.append(
        f"  image size {info['image_size']}, intensities in "
        f"[{info['intensity_min']:.3f}, {info['intensity_max']:.3f}], masks: {info['has_masks']}"
    )
    lines.append(
        f"  original sizes {info.get('original_sizes')}, resized {info.get('resized', 0)}, "
        f"skipped {info['skipped_count']}, missing masks {info['missing_mask_count']}, "
        f"ignored files {info['ignored_count']}"
    )
    return "\n".join(lines)


def loader_metrics(source: SliceSource, **measured) -> dict:
    """What notebook 01 writes to ``metrics.json``: the summary later notebooks and tests read.

    ``counts``, ``subjects`` and ``subject_ids`` describe the whole source (every slice and
    subject found; for a split whose size the source does not know, what was loaded), and
    ``loaded_counts`` / ``loaded_subjects`` what was loaded (fewer in ``smoke`` mode). The
    other entries come from :func:`inspect_source`; ``measured`` (timings, pipeline speeds,
    the run's settings) is added as given.
    """
    info = source.info or inspect_source(source)

    def whole_source(key: str, loaded_key: str) -> dict:
        values = info.get(key) or {}
        return {
            split: info[loaded_key][split] if values.get(split) is None else values[split]
            for split in SPLITS
        }

    summary = {
        "layout": source.layout,
        "label": info["label"],
        "stand_in": info["stand_in"],
        "data_dir": str(source.root) if source.root else None,
        "counts": whole_source("source_counts", "counts"),
        "subjects": whole_source("source_subjects", "subjects"),
        "subject_ids": info.get("source_subject_ids") or info["subject_ids"],
        "loaded_counts": info["counts"],
        "loaded_subjects": info["subjects"],
    }
    for key in (
        *("image_size", "intensity_min", "intensity_max", "intensity_mean", "has_masks"),
        *("original_sizes", "resized", "missing_mask_count", "skipped_count", "ignored_count"),
    ):
        summary[key] = info[key]
    return {**summary, **measured}
