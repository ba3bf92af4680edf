"""The widget driver of the notebook tests finds what ipywidgets would swallow."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from oasis_helpers import series

DRIVER = Path(__file__).with_name("widget_driver.py")

BROKEN_WIDGETS = """
import ipywidgets as widgets
from IPython.display import display

output = widgets.Output()
button = widgets.Button(description="Broken")
slider = widgets.IntSlider(min=0, max=10, value=5)
picker = widgets.Dropdown(options=[1, 2, 3], value=1)


def on_click(_):
    with output:  # ipywidgets shows this error and carries on
        raise ValueError("button callback is broken")


def on_pick(change):
    if change["new"] == 3:
        raise KeyError("dropdown observer is broken for its last value")


button.on_click(on_click)
picker.observe(on_pick, names="value")
display(widgets.VBox([button, slider, picker, output]))
"""


def _notebook_with_driver(path: Path, widget_source: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(widget_source),
        nbformat.v4.new_code_cell(DRIVER.read_text() + "\n\ndrive_widgets()\n"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_driver_fails_on_callbacks_that_ipywidgets_swallows(tmp_path):
    series.ensure_kernel()
    notebook = _notebook_with_driver(tmp_path / "00_widgets.ipynb", BROKEN_WIDGETS)
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        series.run_notebook(notebook, tmp_path / "runs")
    assert caught.value.ename == "RuntimeError"
    assert "2 widget callback(s) raised" in caught.value.evalue
    executed = tmp_path / "runs" / "00_widgets" / "00_widgets.ipynb"
    printed = "".join(
        output.get("text", "")
        for output in nbformat.read(executed, as_version=4).cells[-1].outputs
        if output.output_type == "stream"
    )
    assert "button callback is broken" in str(caught.value) + printed
    assert "dropdown observer is broken" in str(caught.value) + printed
    assert '"Button": 1' in printed and '"Dropdown": 1' in printed and '"IntSlider": 1' in printed
