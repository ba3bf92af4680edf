"""The project's own contracts: notebooks committed clean, one parameters cell,
environment.yml in step with pyproject.toml, the README's two commands, a wheel that
holds the whole package."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
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
    calls ``parameters.check`` or ``parameters.check_notebook`` (issue 7 item 6)."""
    cells = _cells(path)
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    following = next(cell for cell in cells[tagged[0] + 1 :] if cell["cell_type"] == "code")
    source = "".join(following["source"])
    checks = ("parameters.check(", f'parameters.check_notebook("{path.stem}", globals()')
    assert any(call in source for call in checks), (
        f"{path.name}: the derived-values cell checks nothing"
    )


def _has_rule(name: str) -> bool:
    """Whether ``parameters.check`` has a rule for a parameter of this name."""
    from oasis_helpers import parameters

    try:
        parameters.check(**{name: []})  # a value no rule accepts, but sweep_sizes
    except TypeError as error:
        return "has no rule" not in str(error)
    except ValueError:
        return True
    return True


@pytest.mark.parametrize(
    "stem",
    [
        "01_data_loader",
        "02_vector_quantizer",
        "03_train_vqvae",
        "04_pixelcnn_prior",
        "05_anomaly_detection",
    ],
)
def test_notebook_parameters_lists_every_parameter_with_a_rule(stem):
    """``parameters.NOTEBOOK_PARAMETERS[stem]`` (what ``check_notebook`` checks) names
    parameters of the notebook's parameters cell, and every one there that has a rule."""
    from oasis_helpers import parameters

    tree = ast.parse(_parameters_cell(ROOT / "notebooks" / f"{stem}.ipynb"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    listed = parameters.NOTEBOOK_PARAMETERS[stem]
    assert set(listed) <= assigned, sorted(set(listed) - assigned)
    unchecked = sorted(name for name in assigned - set(listed) if _has_rule(name))
    assert not unchecked, f"add {unchecked} to parameters.NOTEBOOK_PARAMETERS[{stem!r}]"


@pytest.mark.parametrize(
    ("stem", "holders", "exempt"),
    [
        ("02_vector_quantizer", ("quantizer.PATCH_STUDY",), ()),
        ("03_train_vqvae", ("models.DEFAULT_CONFIG", "training.DEFAULT_TRAINING"), ()),
        # the prior's codebook size is notebook 03's, read from its codes
        (
            "04_pixelcnn_prior",
            ("prior.DEFAULT_PRIOR", "prior.DEFAULT_PRIOR_TRAINING"),
            ("num_embeddings",),
        ),
    ],
)
def test_notebook_reads_its_defaults_from_the_package(stem, holders, exempt):
    """Each default of the package's dictionaries (quantizer.PATCH_STUDY for notebook 02,
    models.DEFAULT_CONFIG and training.DEFAULT_TRAINING for notebook 03, prior.DEFAULT_PRIOR
    and prior.DEFAULT_PRIOR_TRAINING for notebook 04) appears in the notebook's parameters
    by name, never as a second copy of its value."""
    import importlib

    source = _parameters_cell(ROOT / "notebooks" / f"{stem}.ipynb")
    for holder in holders:
        module, dictionary = holder.split(".")
        defaults = getattr(importlib.import_module(f"oasis_helpers.{module}"), dictionary)
        for name in set(defaults) - set(exempt):
            pattern = rf"^{name}\s*=\s*{re.escape(holder)}\[\"{name}\"\]"
            assert re.search(pattern, source, re.MULTILINE), (
                f"notebook {stem[:2]} should set {name} = {holder}[{name!r}]"
            )


def test_notebook_01_starts_slices_per_volume_at_the_loaders_default():
    """The loaders' default, data.DEFAULT_SLICES_PER_VOLUME, appears in notebook 01's
    parameters by name, never as a second copy of its value."""
    source = _parameters_cell(ROOT / "notebooks" / "01_data_loader.ipynb")
    pattern = r"^slices_per_volume\s*=\s*data\.DEFAULT_SLICES_PER_VOLUME\b"
    assert re.search(pattern, source, re.MULTILINE), (
        "notebook 01 should set slices_per_volume = data.DEFAULT_SLICES_PER_VOLUME"
    )


# ---------------------------------------------------------------------------------------------
# The wheel (``pip install .``, not editable) holds every module
# ---------------------------------------------------------------------------------------------
PACKAGE = ROOT / "oasis_helpers"


def _package_modules() -> set[str]:
    """Dotted names of every module in the source tree (``oasis_helpers.data.png``...)."""
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imported_package_modules(source: str) -> set[str]:
    """The ``oasis_helpers`` modules that ``source`` imports, at any depth of the code.

    ``from oasis_helpers import data`` imports ``oasis_helpers`` and ``oasis_helpers.data``;
    ``from oasis_helpers.quantizer import VectorQuantizer`` imports ``oasis_helpers`` and
    ``oasis_helpers.quantizer``.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "oasis_helpers":
                continue
            for depth in range(1, len(parts) + 1):
                dotted = ".".join(parts[:depth])
                if _is_module(dotted):
                    found.add(dotted)
    return found


def _notebook_code(path: Path) -> str:
    """A notebook's code cells as one script (IPython magics and shell lines dropped)."""
    lines = []
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [
                line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
            ]
            lines.append("")
    return "\n".join(lines)


def _modules_used_by_the_series() -> dict[str, set[str]]:
    """``{module: files that import it}`` over the notebooks' code cells and benchmarks/*.py."""
    sources = {path: _notebook_code(path) for path in NOTEBOOKS}
    sources.update({path: path.read_text() for path in sorted((ROOT / "benchmarks").glob("*.py"))})
    used: dict[str, set[str]] = {}
    for path, source in sources.items():
        for module in _imported_package_modules(source):
            used.setdefault(module, set()).add(path.name)
    return used


def _wheel_modules(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.endswith(".py")]
    modules = set()
    for name in names:
        parts = Path(name).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip`` builds from a copy of the project (so that no ``build/`` folder
    left in the work tree can add or hide a module), offline: no index, no build isolation
    (the venv's setuptools, pinned in the [dev] extra, builds it)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    output = folder / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "-w", str(output), str(source)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, (
        f"pip wheel failed (is the [dev] extra installed? pip install -e '.[dev]'):\n"
        f"{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    )
    wheels = list(output.glob("oasis_helpers-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_series_imports_modules_that_exist():
    """The import parser finds what the notebooks and benchmarks use (data and its
    subpackage imports among them), and every one of those is a module of the package."""
    used = _modules_used_by_the_series()
    assert {"oasis_helpers.data", "oasis_helpers.models", "oasis_helpers.quantizer"} <= set(used)
    assert {name for path in NOTEBOOKS for name in used["oasis_helpers.data"]} >= {
        path.name for path in NOTEBOOKS
    }, "every notebook loads its slices through oasis_helpers.data"
    assert set(used) <= _package_modules()


def test_the_wheel_holds_every_module_of_the_package(wheel):
    missing = _package_modules() - _wheel_modules(wheel)
    assert not missing, f"{wheel.name} lacks {sorted(missing)}"


def test_the_wheel_holds_every_module_the_notebooks_and_benchmarks_import(wheel):
    in_wheel = _wheel_modules(wheel)
    used = _modules_used_by_the_series()
    missing = {module: sorted(files) for module, files in used.items() if module not in in_wheel}
    assert not missing, f"{wheel.name} lacks modules that these files import: {missing}"


def test_the_modules_the_series_imports_import_from_the_wheel_alone(wheel, tmp_path):
    """Unpacked on its own (not the work tree), the wheel's modules import: nothing they
    need at import time is left out of it."""
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    modules = sorted(_modules_used_by_the_series())
    script = (
        "import importlib, pathlib, sys\n"
        f"sys.path.insert(0, {str(unpacked)!r})\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert pathlib.Path(module.__file__).is_relative_to({str(unpacked)!r}), module\n"
        "print('IMPORTED', len(sys.modules))\n"
    )
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "IMPORTED" in result.stdout, result.stderr[-3000:]


# ---------------------------------------------------------------------------------------------
# The tests: one module per package module, fixtures shared through two files
# ---------------------------------------------------------------------------------------------
#: Test modules of the project as a whole, not of one package module.
PROJECT_TESTS = {
    "test_course_01_02",
    "test_course_03",
    "test_course_04",
    "test_course_05",
    "test_cpu_kernels",
    "test_notebooks",
    "test_project",
}


def test_every_package_module_has_one_test_module_named_after_it():
    """``oasis_helpers/prior/model.py`` is tested by ``tests/test_prior_model.py``, and every
    test module but the project's own contracts tests one package module."""
    package = ROOT / "oasis_helpers"
    expected = {
        "test_" + "_".join(path.relative_to(package).with_suffix("").parts)
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
    }
    tests = {path.stem for path in (ROOT / "tests").glob("test_*.py")}
    assert not expected - tests, f"package modules without a test module: {expected - tests}"
    assert tests - expected == PROJECT_TESTS, (
        f"test modules of no package module: {tests - expected}"
    )


def test_no_test_module_imports_another_test_module():
    """What tests share lives in tests/conftest.py (fixtures) and tests/oasis_fixtures.py."""
    helpers = {path.stem for path in (ROOT / "tests").glob("*.py")} - {"conftest"}
    allowed = {"oasis_fixtures"}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        }
        assert not (imported & helpers) - allowed, f"{path.name} imports {imported & helpers}"
