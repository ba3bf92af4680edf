"""Notebooks 01 and 02 as a course (issue 17).

``data.loader_metrics``: what notebook 01 writes to its metrics.json, in one call.
"""

from __future__ import annotations


def test_loader_metrics_describe_the_whole_source_and_what_was_loaded():
    """``data.loader_metrics`` (notebook 01's metrics.json): the whole source's counts, the
    loaded ones, and what the notebook measured."""
    from oasis_helpers import data

    source = data.load_slices(None, image_size=64, seed=3, smoke=True, with_masks=False)
    summary = data.loader_metrics(source, load_seconds=1.5, smoke=True)
    info = source.info
    assert summary["layout"] == "demo" and summary["stand_in"] and summary["data_dir"] is None
    assert summary["counts"] == info["source_counts"] and summary["loaded_counts"] == info["counts"]
    assert summary["subjects"] == info["source_subjects"]
    assert summary["subject_ids"] == info["source_subject_ids"]
    assert summary["image_size"] == 64 and summary["has_masks"] is False
    assert summary["load_seconds"] == 1.5 and summary["smoke"] is True
    for key in ("intensity_min", "intensity_max", "skipped_count", "ignored_count"):
        assert summary[key] == info[key]
