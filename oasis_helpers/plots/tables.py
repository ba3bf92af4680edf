"""Tables for a notebook to ``display``: rows of values as Markdown (:func:`markdown_table`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def _cell_text(value: Any, format: str | Callable[[Any], str] | None, float_format: str) -> str:
    if callable(format):
        text = format(value)
    elif format is not None:
        text = format.format(value)
    elif isinstance(value, float | np.floating):
        text = float_format.format(value)
    elif isinstance(value, tuple):
        text = " x ".join(str(item) for item in value)
    else:
        text = str(value)
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    float_format: str = "{:.3f}",
):
    """A Markdown table of ``rows``, for a notebook to ``display``.

    Args:
        rows: dicts (a cell is ``row[key]``; other keys are ignored) or sequences (one
            value per column, in order), e.g. ``results.items()``.
        columns: the column keys in order, or ``{key: header}``. With a list, a header is
            its key with spaces for underscores (``"output_shape"`` -> ``output shape``).
            ``None``: the keys of the first (dict) row. Sequence rows need ``columns``
            (their keys are the headers).
        formats: ``{key: format}``, a ``str.format`` template (``"{:.1%}"``, ``"{:,}"``,
            ``"`{}`"``) or a function of the value that returns the cell's text.
        float_format: the template of floats without a format of their own. Tuples
            without one are joined with ``" x "`` (shapes: ``64 x 64 x 16``); anything
            else is ``str(value)``. A ``|`` in a cell is escaped, a newline becomes a space.

    Returns:
        ``IPython.display.Markdown``; its text is ``.data``: a header line, a ``|---|``
        line and one line per row.

    Raises:
        ValueError: no columns (or none given for sequence rows), or a sequence row
            whose length is not the number of columns.
    """
    from IPython.display import Markdown

    rows = list(rows)
    if columns is None:
        if not rows or not isinstance(rows[0], Mapping):
            raise ValueError("markdown_table needs columns unless the rows are dicts")
        columns = list(rows[0])
    headers = (
        dict(columns)
        if isinstance(columns, Mapping)
        else {key: key.replace("_", " ") for key in columns}
    )
    if not headers:
        raise ValueError("markdown_table needs at least one column")
    keys, formats = list(headers), dict(formats or {})
    lines = ["| " + " | ".join(headers.values()) + " |", "|" + "---|" * len(keys)]
    for number, row in enumerate(rows):
        if isinstance(row, Mapping):
            values = [row[key] for key in keys]
        else:
            values = list(row)
            if len(values) != len(keys):
                raise ValueError(
                    f"row {number} has {len(values)} values for {len(keys)} columns {keys}"
                )
        cells = [
            _cell_text(value, formats.get(key), float_format)
            for key, value in zip(keys, values, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))
