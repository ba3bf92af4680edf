"""The project's own contracts: notebooks committed clean, one parameters cell,
environment.yml in step with pyproject.toml, the README's two commands."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONTRACT_PARAMETERS = ("data_dir", "run_dir", "image_size", "seed", "smoke", "interactive")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path):
    for index, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {index} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {index} was executed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_one_parameters_cell_with_the_contract(path):
    cells = _cells(path)
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    for name in CONTRACT_PARAMETERS:
        assert re.search(rf"^{name}\s*=", source, re.MULTILINE), f"{path.name}: no {name} parameter"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"], "opens with a title"
    assert cells[-1]["cell_type"] == "markdown", f"{path.name}: should end with a conclusion"
    joined = "".join("".join(cell["source"]) for cell in cells)
    assert "write_metrics" in joined, f"{path.name}: never writes metrics.json"


def _pins_from_pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"pyproject dependency {requirement!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_agrees_with_pyproject():
    """environment.yml (conda users) pins python and the same packages as pyproject.toml."""
    text = (ROOT / "environment.yml").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum_python = re.search(r"([0-9]+\.[0-9]+)", project["requires-python"]).group(1)
    conda_python = re.search(r"^\s*-\s*python\s*=\s*([0-9.]+)", text, re.MULTILINE)
    assert conda_python, "environment.yml names no python version"
    assert conda_python.group(1) == minimum_python

    pip_pins = re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", text, re.MULTILINE)
    assert {name.lower(): version for name, version in pip_pins} == _pins_from_pyproject()
    installs_package = re.search(r"^\s*-\s*-e\s+\.", text, re.MULTILINE)
    assert installs_package, "environment.yml must install the package itself (-e .)"


def test_runtime_dependencies_are_pinned():
    pins = _pins_from_pyproject()
    assert pins["tensorflow"].startswith("2.21")
    assert pins["tensorflow-probability"].startswith("0.25")
    assert pins["tf-keras"].startswith("2.21")


def test_readme_gives_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)", readme, re.MULTILINE)
    assert commands[:2] == ["run", "test"], f"README's first commands are {commands[:2]}"


def test_ci_calls_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _parameters_cell(path: Path) -> str:
    cells = _cells(path)
    return next(
        "".join(cell["source"])
        for cell in cells
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_checks_its_parameters_before_any_work(path):
    """The first code cell after the parameters cell (where derived values are computed)
    calls ``parameters.check`` (issue 7 item 6)."""
    cells = _cells(path)
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    following = next(cell for cell in cells[tagged[0] + 1 :] if cell["cell_type"] == "code")
    source = "".join(following["source"])
    assert "parameters.check(" in source, f"{path.name}: the derived-values cell checks nothing"


def test_notebook_03_reads_the_default_model_and_training_from_the_package():
    """Each default of models.DEFAULT_CONFIG / training.DEFAULT_TRAINING appears in
    notebook 03's parameters by name, never as a second copy of its value."""
    from oasis_helpers import models, training

    source = _parameters_cell(ROOT / "notebooks" / "03_train_vqvae.ipynb")
    for holder, defaults in (
        ("models.DEFAULT_CONFIG", models.DEFAULT_CONFIG),
        ("training.DEFAULT_TRAINING", training.DEFAULT_TRAINING),
    ):
        for name in defaults:
            pattern = rf"^{name}\s*=\s*{re.escape(holder)}\[\"{name}\"\]"
            assert re.search(pattern, source, re.MULTILINE), (
                f"notebook 03 should set {name} = {holder}[{name!r}]"
            )
