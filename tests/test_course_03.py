"""Notebook 03 as a course: its teaching code agrees with the package, its exercises' solutions
are hidden, and the package code it shows still exists.

Notebook 03 writes two ideas out by hand, the VQ-VAE loss (``vqvae_loss``) and SSIM
(``ssim_by_hand``), and says that the package computes the same. These tests take the
functions from the notebook's own cells (so the page and the test cannot drift apart) and
compare them with ``VQVAE.compute_losses`` and ``metrics.ssim_per_slice`` on the same
weights and images. They run in seconds: no notebook is executed.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from oasis_fixtures import TINY_VQVAE

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_train_vqvae.ipynb"


def _cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _notebook_function(name: str):
    """The function ``name`` defined in one of notebook 03's code cells, and only it: the
    cell's other statements (which use the notebook's variables) are not run."""
    import keras
    import tensorflow as tf
    from keras import ops

    definitions = [
        node
        for cell in _cells()
        if cell.cell_type == "code"
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.FunctionDef) and node.name == name
    ]
    assert len(definitions) == 1, f"notebook 03 defines {name} {len(definitions)} times"
    namespace = {"keras": keras, "np": np, "ops": ops, "tf": tf}
    module = ast.Module(body=definitions, type_ignores=[])
    exec(compile(module, str(NOTEBOOK), "exec"), namespace)
    return namespace[name]


def _tiny_model(variant: str, seed: int = 3):
    from oasis_helpers import models

    model = models.make_vqvae(
        quantizer=variant, quantizer_options={"seed": seed}, run_eagerly=True, **TINY_VQVAE
    )
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 1.0, (4, TINY_VQVAE["image_size"], TINY_VQVAE["image_size"], 1))
    images = images.astype(np.float32)
    model.fit(images, epochs=1, batch_size=4, verbose=0)  # one step: a data-initialised codebook
    return model, images


@pytest.mark.parametrize("variant", ["ema", "standard"])
def test_the_loss_by_hand_is_the_packages_loss_with_the_same_gradients(variant):
    """Notebook 03, section 10: ``vqvae_loss`` gives ``VQVAE.compute_losses``'s reconstruction
    and quantizer losses, and the same gradient for every trainable weight (the codebook's
    included for the standard quantizer)."""
    import tensorflow as tf

    vqvae_loss = _notebook_function("vqvae_loss")
    model, images = _tiny_model(variant)

    with tf.GradientTape(persistent=True) as tape:
        total, terms = vqvae_loss(model, images)
        reconstruction_loss, quantizer_loss = model.compute_losses(images, training=False)
        package_total = reconstruction_loss + quantizer_loss
    expected_terms = {"reconstruction", "commitment"} | (
        {"codebook"} if variant == "standard" else set()
    )
    assert set(terms) == expected_terms
    np.testing.assert_allclose(float(terms["reconstruction"]), float(reconstruction_loss), 1e-6)
    np.testing.assert_allclose(float(total), float(package_total), rtol=1e-6)

    variables = model.trainable_variables
    assert any("embeddings" in v.path for v in variables) == (variant == "standard")
    by_hand = tape.gradient(total, variables)
    package = tape.gradient(package_total, variables)
    for variable, mine, theirs in zip(variables, by_hand, package, strict=True):
        assert mine is not None and theirs is not None, variable.path
        mine, theirs = tf.convert_to_tensor(mine), tf.convert_to_tensor(theirs)  # gathers
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-8, err_msg=variable.path)


def test_ssim_by_hand_is_the_packages_ssim():
    """Notebook 03, section 12: ``ssim_by_hand`` gives ``metrics.ssim_per_slice``
    (``tf.image.ssim``) per slice, for near copies, unrelated images and a constant shift."""
    from oasis_helpers import metrics

    ssim_by_hand = _notebook_function("ssim_by_hand")
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (3, 48, 40, 1)).astype(np.float32)
    x[0] = 0.0  # a black slice, as the background
    pairs = [
        x + rng.normal(0.0, 0.02, x.shape).astype(np.float32),
        rng.uniform(0.0, 1.0, x.shape).astype(np.float32),
        x + 0.1,
    ]
    for y in pairs:
        np.testing.assert_allclose(ssim_by_hand(x, y), metrics.ssim_per_slice(x, y), atol=1e-5)
    assert ssim_by_hand(x, x) == pytest.approx(1.0)


def _section(cells, heading: str) -> list:
    """The cells from the markdown cell that opens with ``heading`` to the next ``## ``."""
    start = next(
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(heading)
    )
    end = next(
        (
            i
            for i in range(start + 1, len(cells))
            if cells[i].cell_type == "markdown" and cells[i].source.startswith("## ")
        ),
        len(cells),
    )
    return cells[start:end]


def _is_hidden_solution(cell) -> bool:
    return "solution" in cell.metadata.get("tags", []) and cell.metadata.get("jupyter", {}).get(
        "source_hidden"
    )


def test_every_solution_is_hidden_until_opened():
    """Exercises: each code cell is a solution, tagged ``solution`` and hidden; each markdown
    ``<details>`` block opens with a summary and is closed; every exercise has a solution;
    and no cell outside the exercises is tagged ``solution``."""
    cells = _cells()
    exercises = _section(cells, "## 18. Exercises")
    code_cells = [cell for cell in exercises if cell.cell_type == "code"]
    assert code_cells and all(_is_hidden_solution(cell) for cell in code_cells)
    outside = [c for c in cells if c not in exercises and "solution" in c.metadata.get("tags", [])]
    assert not outside

    markdown = [cell for cell in exercises if cell.cell_type == "markdown"]
    names = re.findall(r"\*\*Exercise (\d+)", "\n".join(cell.source for cell in markdown))
    assert names == [str(n) for n in range(1, len(names) + 1)] and 3 <= len(names) <= 5
    for cell in markdown:
        opened = cell.source.count("<details>")
        assert opened == cell.source.count("</details>")
        assert opened == len(re.findall(r"<details>\s*<summary>[^<]+</summary>", cell.source))
    for index, cell in enumerate(exercises):
        if cell.cell_type == "markdown" and "**Exercise" in cell.source:
            follows = exercises[index + 1] if index + 1 < len(exercises) else None
            has_code = follows is not None and _is_hidden_solution(follows)
            assert "<details>" in cell.source or has_code, cell.source[:80]


def test_sections_are_numbered_and_end_with_conclusion_exercises_references():
    headings = [
        line
        for cell in _cells()
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    numbers = [int(re.match(r"## (\d+)\. ", line).group(1)) for line in headings]
    assert numbers == list(range(1, len(headings) + 1)), headings
    assert [line.split(". ", 1)[1] for line in headings[-3:]] == [
        "Conclusion",
        "Exercises",
        "References",
    ]
    assert _cells()[-1].source.startswith("## ") and "References" in _cells()[-1].source


def test_the_package_code_the_notebook_shows_still_exists():
    """Every ``plots.show_source(...)`` of notebook 03 names an object of the package and
    markers that occur in its source (a renamed function or a moved marker fails here, in a
    second, not in the notebook's smoke run)."""
    from oasis_helpers import plots

    calls, imported = [], set()
    for cell in _cells():
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "oasis_helpers":
                imported |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "show_source":
                calls.append(node)
    namespace = {name: importlib.import_module(f"oasis_helpers.{name}") for name in imported}
    assert len(calls) >= 6
    for call in calls:
        target = eval(compile(ast.Expression(call.args[0]), "<cell>", "eval"), namespace)
        keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        shown = plots.source_text(target, **keywords)
        assert shown.strip(), ast.unparse(call)
