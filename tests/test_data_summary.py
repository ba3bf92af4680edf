"""What was loaded (oasis_helpers.data.summary): the summary of a source and its printout."""

from __future__ import annotations

import oasis_fixtures as fx

from oasis_helpers import data


def test_the_summary_counts_what_was_loaded_and_describe_prints_it(tmp_path):
    subjects = {"train": ["1", "2", "3", "4", "5"], "validate": ["6", "7"], "test": ["8"]}
    root = fx.write_png_layout(tmp_path, subjects=subjects, slices=12)
    source = data.load_slices(root, image_size=32, smoke=True)
    info = data.inspect_source(source)
    assert info["counts"] == {name: len(split) for name, split in source.splits.items()}
    assert info["subjects"] == {name: len(split.subjects) for name, split in source.splits.items()}
    assert info["source_counts"]["train"] > info["counts"]["train"]  # smoke loaded less
    assert 0.0 <= info["intensity_min"] < info["intensity_mean"] < info["intensity_max"] <= 1.0
    assert info["has_masks"] and info["subjects_shared_between_splits"] == []
    text = data.describe(source)
    assert text.splitlines()[0] == info["label"]
    assert f"{info['counts']['train']:6d} slices from" in text
    assert "(source holds" in text  # the smoke run says what the source holds
    fx.no_subject_in_two_splits(source)
