"""Drive every live ipywidget of a notebook once, inside its kernel, and fail on any error.

``tests/test_notebooks.py`` appends this file's source and a call of
:func:`drive_widgets` as a last cell of a notebook run with ``interactive=True``.
ipywidgets swallows what a callback raises (``CallbackDispatcher`` and the
``Output`` context manager hand it to ``showtraceback`` and carry on), so the
driver records every traceback the kernel shows while it drives the widgets, and
raises at the end if there was one: a broken callback fails the test.

Each control is moved through its range, then put back: every value of a
dropdown (or other selection), a slider to its minimum and its maximum, a
checkbox both ways. Buttons are clicked last, with the notebook's own (smoke)
settings restored, so that an expensive action stays cheap.
"""

from __future__ import annotations

import json
import traceback


def _record_tracebacks(shell, errors: list[str]):
    original = shell.showtraceback

    def record(exc_tuple=None, *args, **kwargs):
        if exc_tuple is not None:
            errors.append("".join(traceback.format_exception(*exc_tuple)))
        else:
            errors.append(traceback.format_exc())
        return original(exc_tuple, *args, **kwargs)

    shell.showtraceback = record
    return original


def _move(widget, kind: str, driven: dict[str, int], errors: list[str]) -> None:
    """Move one control through its range and back; what it raises is recorded."""
    try:
        if hasattr(widget, "options") and hasattr(widget, "index"):
            original = widget.index
            multiple = isinstance(original, tuple)
            for position in range(len(widget.options)):
                widget.index = (position,) if multiple else position
            widget.index = original
        elif hasattr(widget, "min") and hasattr(widget, "max") and hasattr(widget, "value"):
            original = widget.value
            if isinstance(original, tuple):  # a range slider
                widget.value = (widget.min, widget.min)
                widget.value = (widget.max, widget.max)
            else:
                widget.value = widget.min
                widget.value = widget.max
            widget.value = original
        elif isinstance(getattr(widget, "value", None), bool):
            widget.value = not widget.value
            widget.value = not widget.value
        else:
            return
    except Exception:  # noqa: BLE001 - an observer raised: that is what we look for
        errors.append(f"{kind} {getattr(widget, 'description', '')!r}: {traceback.format_exc()}")
    driven[kind] = driven.get(kind, 0) + 1


def drive_widgets() -> dict[str, int]:
    """Drive every widget alive in this kernel; return how many of each kind were driven.

    Raises:
        RuntimeError: some callback or observer raised (the tracebacks are listed).
    """
    import ipywidgets
    from IPython import get_ipython
    from ipywidgets.widgets.widget import _instances  # every widget alive in this kernel

    shell = get_ipython()
    errors: list[str] = []
    driven: dict[str, int] = {}
    original = _record_tracebacks(shell, errors)
    try:
        widgets = list(_instances.values())
        for widget in widgets:
            if not isinstance(widget, ipywidgets.Button | ipywidgets.Layout):
                _move(widget, type(widget).__name__, driven, errors)
        for widget in widgets:
            if isinstance(widget, ipywidgets.Button):
                widget.click()
                driven["Button"] = driven.get("Button", 0) + 1
    finally:
        shell.showtraceback = original
    print("WIDGETS_DRIVEN " + json.dumps(driven, sort_keys=True))
    if errors:
        raise RuntimeError(f"{len(errors)} widget callback(s) raised:\n" + "\n".join(errors))
    return driven
