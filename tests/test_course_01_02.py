"""Notebooks 01 and 02 as a course (issue 17): numbered sections that end with a conclusion,
exercises and references; solutions hidden until opened; the code each section shows is
the package's own (``plots.show_source``, whose markers must still be found) or a teaching
version that gives the package's result.

The teaching versions are read from the notebooks themselves (the function's definition in
its cell), so a change on either side fails here instead of drifting silently.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import oasis_fixtures as fx
import pytest

ROOT = Path(__file__).resolve().parent.parent
STEMS = ("01_data_loader", "02_vector_quantizer")
EXERCISE = re.compile(r"^\*\*Exercise (\d+) \(", re.MULTILINE)
ROADMAP = "![roadmap of the series](../docs/roadmap.png)"


def _cells(stem: str) -> list:
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells


@pytest.mark.parametrize("stem", STEMS)
def test_sections_are_numbered_and_end_with_conclusion_exercises_and_references(stem):
    cells = _cells(stem)
    sections = fx.notebook_sections(cells)
    numbers = [number for _, number, _ in sections]
    assert numbers == list(range(1, len(numbers) + 1)), f"{stem}: sections numbered {numbers}"
    unnumbered = [
        line
        for cell in cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ") and not fx.SECTION.match(line)
    ]
    assert not unnumbered, f"{stem}: unnumbered sections {unnumbered}"
    assert [title for _, _, title in sections[-3:]] == ["Conclusion", "Exercises", "References"]
    assert ROADMAP in cells[0].source, f"{stem}: the opening cell shows no roadmap"


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_a_solution_hidden_until_opened(stem):
    """3-5 numbered exercises, each followed by a ``<details>`` solution or a solution code
    cell (tagged ``solution``, source hidden); every solution cell is an exercise's."""
    cells = _cells(stem)
    exercises = fx.section_cells(cells, "Exercises")
    found, solved = [], {}
    for cell in exercises:
        if cell.cell_type == "markdown":
            parts = EXERCISE.split(cell.source)  # text, number, text, number, text, ...
            for number, text in zip(parts[1::2], parts[2::2], strict=True):
                found.append(int(number))
                solved[int(number)] = "<details><summary>Solution</summary>" in text
            assert cell.source.count("<details>") == cell.source.count("</details>")
            assert cell.source.count("<details>") == cell.source.count(
                "<details><summary>Solution</summary>"
            ), f"{stem}: a <details> block without its Solution summary"
        else:
            assert found, f"{stem}: a code cell before the first exercise"
            assert fx.is_solution(cell), f"{stem}: exercise {found[-1]}'s code cell is not tagged"
            assert fx.is_hidden(cell), f"{stem}: exercise {found[-1]}'s solution is not hidden"
            solved[found[-1]] = True
    assert found == list(range(1, len(found) + 1)) and 3 <= len(found) <= 5, found
    assert all(solved.values()), f"{stem}: exercises without a solution: {solved}"
    tagged = [cell for cell in cells if fx.is_solution(cell)]
    assert tagged and all(fx.is_hidden(cell) for cell in tagged)
    assert all(any(cell is other for other in exercises) for cell in tagged), (
        f"{stem}: a solution cell outside the Exercises section"
    )


def _shown_sources(stem: str) -> list[str]:
    """Every ``plots.show_source(...)`` call of the notebook's code cells, as source text."""
    calls = []
    for cell in _cells(stem):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "show_source"
            ):
                calls.append(ast.unparse(node))
    return calls


@pytest.mark.parametrize("stem", STEMS)
def test_the_code_each_section_shows_is_found_in_the_package(stem):
    """Each shown part of the package still exists (its markers are found) and is short."""
    from oasis_helpers import data, metrics, plots, quantizer
    from oasis_helpers.quantizer import VectorQuantizer, VectorQuantizerEMA

    namespace = {
        "data": data,
        "metrics": metrics,
        "plots": plots,
        "quantizer": quantizer,
        "VectorQuantizer": VectorQuantizer,
        "VectorQuantizerEMA": VectorQuantizerEMA,
    }
    calls = _shown_sources(stem)
    assert len(calls) >= 3, f"{stem} shows little of the package's code: {calls}"
    for call in calls:
        text = eval(call.replace("show_source(", "source_text(", 1), namespace)  # noqa: S307
        assert 0 < len(text.splitlines()) <= 40, f"{call} shows {len(text.splitlines())} lines"


def test_notebook_02s_ema_update_is_the_ema_layers_update():
    """Notebook 02's NumPy ``ema_update`` gives the codebook and statistics of
    ``VectorQuantizerEMA`` over several steps, unused codes and their drift included."""
    import keras

    from oasis_helpers.quantizer import VectorQuantizerEMA

    ema_update = fx.notebook_function("02_vector_quantizer", "ema_update", {"np": np})
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 3)).astype("float32")
    decay, epsilon = 0.8, 1e-3  # large: the smoothing shows, and unused codes drift in 40 steps
    layer = VectorQuantizerEMA(
        6,
        3,
        decay=decay,
        epsilon=epsilon,
        init=None,
        dead_code_steps=None,
        embeddings_initializer=keras.initializers.Constant(start),
        seed=0,
    )
    layer.build((None, 3))
    sizes, sums = np.ones(6), start.astype("float64")
    for _ in range(40):
        # vectors near codes 0-2 only: codes 3-5 go unused and drift
        vectors = (start[rng.integers(0, 3, 20)] + rng.normal(0, 0.1, (20, 3))).astype("float32")
        indices = layer.code_indices(vectors).numpy()
        layer(vectors, training=True, return_losses=True)
        sizes, sums, codes = ema_update(sizes, sums, vectors, indices, decay, epsilon)
        np.testing.assert_allclose(layer.ema_cluster_size.numpy(), sizes, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.ema_embedding_sum.numpy(), sums, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.codebook.numpy(), codes, rtol=1e-4, atol=1e-6)
    unused = np.linalg.norm(codes[3:], axis=1) / np.linalg.norm(start[3:], axis=1)
    assert np.all(unused < 0.5), f"unused codes should have drifted toward 0: {unused}"


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
