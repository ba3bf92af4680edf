"""The package's own code on the page: :mod:`oasis_helpers.plots.source`."""

import pytest

from oasis_helpers import plots, quantizer


def test_source_text_is_the_code_that_runs_and_can_be_cut_to_a_part():
    whole = plots.source_text(quantizer.VectorQuantizer.call)
    assert whole.startswith("def call(")  # dedented: a method reads as a function
    part = plots.source_text(plots.source_text, start="lines = textwrap", end="first, last")
    assert part.splitlines()[0].startswith("lines = textwrap")  # dedented to its own level
    assert part.splitlines()[-1].startswith("first, last")
    assert len(part.splitlines()) == 3
    namespace = {}
    header = "import inspect, textwrap\nfrom typing import Any\n"
    exec(header + plots.source_text(plots.source_text), namespace)
    assert namespace["source_text"](plots.source_text) == plots.source_text(plots.source_text)


def test_a_missing_marker_names_the_object_and_the_marker():
    with pytest.raises(ValueError, match="no such line.*source_text"):
        plots.source_text(plots.source_text, start="no such line")
    with pytest.raises(ValueError, match="after"):
        plots.source_text(plots.source_text, start="def source_text", end="no such end")


def test_show_source_displays_python_code():
    shown = plots.show_source(plots.source_text, end="Args:")
    assert shown.data.splitlines()[0].startswith("def source_text(")
    assert "Args:" in shown.data.splitlines()[-1]
