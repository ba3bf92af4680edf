"""plots.diagrams.roadmap: every notebook is shown, with the files that the notebooks really
write and read."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from oasis_fixtures import figure_text

from oasis_helpers.plots import diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


ROOT = Path(__file__).resolve().parents[1]


def _notebook_code(stem: str) -> str:
    notebook = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return "\n".join("".join(cell["source"]) for cell in cells)


def test_roadmap_shows_every_notebook_and_the_files_that_pass_between_them():
    from oasis_helpers import runs

    text = figure_text(diagrams.draw_roadmap())
    assert [step["stem"] for step in diagrams.ROADMAP] == list(runs.NOTEBOOK_STEMS)
    for step in diagrams.ROADMAP:
        assert step["title"] in text
        assert step["purpose"] in text
    for name in ["vqvae.keras", "codes.npz", "prior.keras", "samples.npz", "blind_spot.keras"]:
        assert name in text
    assert text.count("metrics.json") == len(runs.NOTEBOOK_STEMS)  # every notebook writes one
    assert "runs/<run>/NN_name/" in text


def test_the_files_of_the_roadmap_are_those_the_notebooks_write_and_read():
    from oasis_helpers import blind_spot, code_grids

    assert code_grids.CODES_FILE == "codes.npz"
    assert f"{blind_spot.MODEL_DIR}/<hash>/{blind_spot.MODEL_FILE}" == (
        "blind_spot/<hash>/blind_spot.keras"
    )
    evidence = {  # what a notebook's code holds when it writes the file
        "vqvae.keras": "models.VQVAE_FILE",
        "prior.keras": "prior.PRIOR_FILE",
        "codes.npz": "code_grids.CODES_FILE",
        "training/<hash>/": 'out_dir / "training"',
        "blind_spot/<hash>/blind_spot.keras": "blind_spot.train_or_load(",
    }
    for step in diagrams.ROADMAP:
        code = _notebook_code(step["stem"])
        assert f'runs.write_metrics(run_dir, "{step["stem"]}"' in code
        for name in step["writes"]:
            if name.endswith((".keras", ".npz", "/")):
                assert evidence.get(name, name) in code, (step["stem"], name)
    # on the arrows: what the next notebook reads, through runs.load_series (which reads
    # each file by its constant) or the file's own reader
    from oasis_helpers import models, prior, runs

    assert (models.VQVAE_FILE, prior.PRIOR_FILE) == ("vqvae.keras", "prior.keras")
    series_reader = inspect.getsource(runs.load_series)
    readers = {
        "vqvae.keras": ("models.VQVAE_FILE", "VQVAE_FILE"),
        "prior.keras": ("prior.PRIOR_FILE", "PRIOR_FILE"),
        "codes.npz": ("code_grids.load_codes(", "load_codes("),
    }
    for step, following in zip(diagrams.ROADMAP, diagrams.ROADMAP[1:], strict=False):
        code = _notebook_code(following["stem"])
        for name in step["passed_files"]:
            assert name in step["passes_on"]
            direct, inside_reader = readers[name]
            through_series = "runs.load_series(" in code and inside_reader in series_reader
            assert direct in code or through_series, (following["stem"], name)
    assert diagrams.ROADMAP[2]["passed_files"] and diagrams.ROADMAP[3]["passed_files"]
