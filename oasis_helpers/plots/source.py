"""The package's own code on the notebook page: :func:`show_source`.

A lesson shows the lines that do what it teaches. Rendering them from the package itself
(``inspect.getsource``) means that what the student reads is what runs: the page cannot
drift from the code.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any


def source_text(obj: Any, start: str | None = None, end: str | None = None) -> str:
    """The source of a function, class or method, dedented; optionally only a part of it.

    Args:
        obj: anything ``inspect.getsource`` accepts (a function, class, method, module).
        start: keep lines from the first one containing this text (inclusive).
        end: keep lines up to the first one after ``start`` containing this text
            (inclusive).

    Raises:
        ValueError: ``start`` or ``end`` does not occur in the source (names ``obj``).
    """
    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    first, last = 0, len(lines) - 1
    if start is not None:
        matches = [index for index, line in enumerate(lines) if start in line]
        if not matches:
            raise ValueError(f"{start!r} does not occur in the source of {name}")
        first = matches[0]
    if end is not None:
        matches = [index for index, line in enumerate(lines) if index >= first and end in line]
        if not matches:
            raise ValueError(f"{end!r} does not occur in the source of {name} after {start!r}")
        last = matches[0]
    return textwrap.dedent("\n".join(lines[first : last + 1]))


def show_source(obj: Any, start: str | None = None, end: str | None = None):
    """Syntax-highlighted source of ``obj`` (or the part from ``start`` to ``end``), for a
    notebook to display: ``IPython.display.Code`` (plain text in a terminal)."""
    from IPython.display import Code

    return Code(source_text(obj, start, end), language="python")
