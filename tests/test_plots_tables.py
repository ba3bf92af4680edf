"""plots.tables: Markdown tables of dicts and of sequences."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_helpers import plots


def test_markdown_table_of_dicts_with_formats():
    rows = [
        {"part": "encoder", "layer": "down_1", "output_shape": (64, 64, 16), "parameters": 12345},
        {"part": "quantizer", "layer": "vq", "output_shape": (64, 64, 16), "parameters": 4096},
    ]
    table = plots.markdown_table(rows, formats={"layer": "`{}`", "parameters": "{:,}"})
    assert table.data.splitlines() == [
        "| part | layer | output shape | parameters |",
        "|---|---|---|---|",
        "| encoder | `down_1` | 64 x 64 x 16 | 12,345 |",
        "| quantizer | `vq` | 64 x 64 x 16 | 4,096 |",
    ]
    # chosen columns with their own headers; floats get float_format unless formatted
    results = [{"variant": "ema", "usage": 0.98, "mse": 3.6e-4, "perplexity": 9.58, "extra": []}]
    table = plots.markdown_table(
        results,
        {"variant": "variant", "usage": "codebook usage", "mse": "patch MSE", "perplexity": "p"},
        formats={"usage": "{:.1%}", "mse": lambda value: f"{value:.2e}"},
    )
    assert table.data.splitlines()[0] == "| variant | codebook usage | patch MSE | p |"
    assert table.data.splitlines()[2] == "| ema | 98.0% | 3.60e-04 | 9.580 |"


def test_markdown_table_of_sequences_escapes_pipes_and_checks_lengths():
    table = plots.markdown_table(
        {"prior": 1.23456, "a|b": np.float32(2.5), "two\nlines": 3}.items(),
        ["what", "distance"],
        float_format="{:.2f}",
    )
    assert table.data.splitlines()[2:] == [
        "| prior | 1.23 |",
        "| a\\|b | 2.50 |",
        "| two lines | 3 |",
    ]
    assert plots.markdown_table([], ["what"]).data == "| what |\n|---|"
    with pytest.raises(ValueError, match="row 0 has 1 values for 2 columns"):
        plots.markdown_table([("only one",)], ["what", "distance"])
    with pytest.raises(ValueError, match="needs columns"):
        plots.markdown_table([("a", 1)])
    with pytest.raises(ValueError, match="at least one column"):
        plots.markdown_table([{}], [])
