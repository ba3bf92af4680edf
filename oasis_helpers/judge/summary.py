"""What notebook 04 records of the anatomy judge's verdict (:func:`judge_summary`).

Every set is compared **at the same size** ``n`` (``kid_set_size``): ``n`` generated
slices per generator, ``n`` real training slices for the floor, ``n`` real test slices
as the reference:

* ``kid_<name>``: KID (:func:`~oasis_helpers.judge.kernel_distance`, mean over subsets of
  ``n // 2`` rows; ``kid_<name>_std`` its spread) between the judge's features (scaled by
  those of every real training slice, :func:`~oasis_helpers.judge.scaled_features`) of
  generator ``<name>``'s slices and of the real test slices; ``kid_train_test`` that of
  real training slices, the floor a perfect generator reaches (about 0; KID is unbiased);
* ``c2st_accuracy_<name>``: the classifier two-sample test
  (:func:`~oasis_helpers.judge.classifier_two_sample_test`) of the generator's slices
  against real training slices; ``c2st_accuracy_train_test`` that of real test slices
  (held out by subject), the floor (about 0.5);
* ``anatomy_height_error_<name>``, ``anatomy_tissue_error_<name>``: the judge's reading
  of each slice against the real anatomy at its height
  (:func:`~oasis_helpers.judge.anatomy_profile`), ``..._test`` for real test slices;
* ``judge``: what the judge was trained for and its validation score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from oasis_helpers.judge.anatomy import AnatomyProfile, anatomy_profile
from oasis_helpers.judge.distances import kernel_distance, scaled_features
from oasis_helpers.judge.network import judge_features, judge_targets, tissue_fractions
from oasis_helpers.judge.training import split_targets
from oasis_helpers.judge.two_sample import DEFAULT_C2ST, classifier_two_sample_test

__all__ = [
    "GENERATORS",
    "VERDICT_COLUMNS",
    "anatomy_profiles",
    "equal_size",
    "judge_summary",
    "verdict_rows",
]

#: The generators notebook 04 compares, as its ``generated_codes`` names them.
GENERATORS = ("prior", "context", "unigram", "uniform")


def equal_size(
    generated: Mapping[str, Any], train_split, test_split, set_size: int | None = None
) -> int:
    """The common set size: the smallest of ``set_size``, every generated set, the test
    split and the training split (at least 4)."""
    sizes = [len(images) for images in generated.values()] + [len(test_split), len(train_split)]
    size = min(sizes + ([int(set_size)] if set_size is not None else []))
    if size < 4:
        raise ValueError(f"every set needs at least 4 slices to be judged, the smallest has {size}")
    return size


def _pick(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(count, size, replace=False))


def anatomy_profiles(
    judge,
    generated_images: Mapping[str, npt.ArrayLike],
    train_split,
    test_split,
    asked_heights: Mapping[str, npt.ArrayLike] | None = None,
    bins: int = 10,
) -> dict[str, AnatomyProfile]:
    """One :class:`~oasis_helpers.judge.AnatomyProfile` per generated set, and ``"test"``
    (the real test slices at their own heights), held against the training slices' anatomy.

    Empty when the judge or the training split has no tissues.
    """
    train_heights, train_masks = split_targets(train_split)
    if train_masks is None or "tissue" not in judge_targets(judge):
        return {}
    train_tissues = tissue_fractions(train_masks)
    asked_heights = dict(asked_heights or {})
    profiles = {
        name: anatomy_profile(
            judge, images, train_heights, train_tissues, asked_heights.get(name), bins
        )
        for name, images in generated_images.items()
    }
    test_heights, _ = split_targets(test_split)
    profiles["test"] = anatomy_profile(
        judge,
        test_split.float_images(np.arange(len(test_split))),
        train_heights,
        train_tissues,
        test_heights,
        bins,
    )
    return profiles


def judge_summary(
    judge,
    judge_report: Mapping[str, Any],
    generated_images: Mapping[str, npt.ArrayLike],
    train_split,
    test_split,
    *,
    asked_heights: Mapping[str, npt.ArrayLike] | None = None,
    set_size: int | None = None,
    subsets: int = 100,
    c2st_sets: Sequence[str] = ("prior",),
    c2st_seeds: Sequence[int] = DEFAULT_C2ST["seeds"],
    c2st_steps: int = DEFAULT_C2ST["steps"],
    seed: int = 0,
) -> dict[str, Any]:
    """The judge's metrics.json entries for notebook 04.

    Args:
        judge: the trained judge (``train_judge(...).model``).
        judge_report: its report (``train_judge(...).report``), recorded as ``judge``.
        generated_images: generator name -> decoded slices float32 ``[n_g, S, S, 1]``
            (notebook 04: ``"prior"``, ``"context"``, ``"unigram"``, ``"uniform"``; any
            other name, e.g. ``"reconstruction"``, is measured the same way).
        train_split, test_split: ``data`` splits of the real slices (``float_images``,
            ``subject_ids``, ``slice_ids``, and ``masks`` for the anatomy entries).
        asked_heights: generator name -> the heights ``[n_g]`` its slices were asked for
            (a conditional prior's ``slice_heights``), for ``anatomy_height_error_<name>``.
        set_size: the most slices per set; every set is cut to the common size
            (:func:`equal_size`).
        subsets: KID subsets (of ``set_size // 2`` rows each).
        c2st_sets: the generators given a classifier two-sample test (each costs a few
            small trainings); the train-test floor always is.
        c2st_seeds, c2st_steps: of :func:`~oasis_helpers.judge.classifier_two_sample_test`.
        seed: which slices make up each set.

    Returns:
        A flat dict of plain values (``judge`` nested), keys in the module docstring.
    """
    unknown = sorted(set(c2st_sets) - set(generated_images))
    if unknown:
        raise ValueError(f"c2st_sets names {unknown}, which generated_images lacks")
    size = equal_size(generated_images, train_split, test_split, set_size)
    rng = np.random.default_rng(seed)
    train_index = _pick(len(train_split), size, rng)
    test_index = _pick(len(test_split), size, rng)
    train_images = train_split.float_images(train_index)
    test_images = test_split.float_images(test_index)
    set_indices = {name: _pick(len(images), size, rng) for name, images in generated_images.items()}
    sets = {
        name: np.asarray(generated_images[name], np.float32)[indices]
        for name, indices in set_indices.items()
    }
    everything = train_split.float_images(np.arange(len(train_split)))
    scaling = judge_features(judge, everything)  # the affine map of every set's features

    def features(images):
        return scaled_features(judge_features(judge, images), scaling)

    reference = features(test_images)
    result: dict[str, Any] = {"kid_set_size": size, "kid_subset_size": size // 2}
    for index, (name, images) in enumerate({**sets, "train_test": train_images}.items()):
        distance = kernel_distance(features(images), reference, subsets, size // 2, seed + index)
        result[f"kid_{name}"] = distance.mean
        result[f"kid_{name}_std"] = distance.std
    train_groups = np.asarray(train_split.subject_ids)[train_index]
    c2st_inputs = {name: (sets[name], None) for name in c2st_sets}
    c2st_inputs["train_test"] = (test_images, np.asarray(test_split.subject_ids)[test_index])
    for name, (images, groups) in c2st_inputs.items():
        test = classifier_two_sample_test(
            images, train_images, groups, train_groups, seeds=c2st_seeds, steps=c2st_steps
        )
        result[f"c2st_accuracy_{name}"] = test["accuracy"]
        result[f"c2st_accuracy_{name}_std"] = test["std"]
    result["c2st_seeds"] = len(list(c2st_seeds))
    asked = {
        name: np.asarray(heights, np.float32).reshape(-1)[set_indices[name]]
        for name, heights in (asked_heights or {}).items()
        if heights is not None and name in set_indices
    }
    profiles = anatomy_profiles(judge, sets, train_split, test_split, asked)
    for name, profile in profiles.items():
        if profile.height_error is not None:
            result[f"anatomy_height_error_{name}"] = profile.height_error
        result[f"anatomy_tissue_error_{name}"] = profile.tissue_error
    result["judge"] = dict(judge_report)
    return result


#: The columns of :func:`verdict_rows`' table, key -> heading.
VERDICT_COLUMNS = {
    "set": "slices",
    "kid": "KID (± sd over subsets)",
    "c2st": "classifier two-sample accuracy (± sd over seeds)",
}


def verdict_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The rows of notebook 04's table of :func:`judge_summary`'s verdict: one per set that
    has a KID (the generators, then the real train-test floor), with its KID and, where
    measured, its classifier two-sample accuracy, each as ``mean ± sd``."""
    measured = [key[4:] for key in summary if key.startswith("kid_") and f"{key}_std" in summary]
    names = [name for name in measured if name != "train_test"] + ["train_test"]
    rows = []
    for name in names:
        accuracy = summary.get(f"c2st_accuracy_{name}")
        rows.append(
            {
                "set": "real train vs real test (floor)" if name == "train_test" else name,
                "kid": f"{summary[f'kid_{name}']:.3f} ± {summary[f'kid_{name}_std']:.3f}",
                "c2st": "—"
                if accuracy is None
                else f"{accuracy:.2f} ± {summary[f'c2st_accuracy_{name}_std']:.2f}",
            }
        )
    return rows
