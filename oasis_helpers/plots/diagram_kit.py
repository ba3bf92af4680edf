"""The drawing kit of :mod:`oasis_helpers.plots.diagrams`: boxes, adders, arrows, labels,
legends and small grid and slice icons on an axis in inch coordinates.

Every diagram is drawn on :func:`canvas` (:data:`WIDTH` inches wide, saved at :data:`DPI`:
900 pixels, the width of a notebook cell); no text is smaller than :data:`MIN_FONT_SIZE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oasis_helpers.plots.figures import pyplot

#: Width of every diagram in inches, and the resolution it is saved at: 900 pixels.
WIDTH = 9.0
DPI = 100
#: No text of a diagram is smaller than this (points), so that it reads at 900 pixels.
MIN_FONT_SIZE = 9.0

TEXT = 10.0  # box text
SMALL = 9.0  # annotations and box details
MONO = "DejaVu Sans Mono"

FORWARD, GRADIENT, UPDATE = "#222222", "#c0392b", "#1b7f3b"
ARROWS = {  # colour, line style, width
    "forward": (FORWARD, "-", 1.3),
    "gradient": (GRADIENT, (0, (4, 2)), 1.6),
    "update": (UPDATE, (0, (1, 1.5)), 1.8),
}
KINDS = {  # face, edge
    "tensor": ("#ffffff", "#555555"),
    "layer": ("#dbe8f5", "#2c5f8a"),
    "loss": ("#fbe3d3", "#b4541b"),
    "codebook": ("#ece4f7", "#6a4c93"),
    "shift": ("#fff1bf", "#9a7600"),
    "files": ("#f3f3f3", "#8a8a8a"),
    "threshold": ("#e3f2e6", "#1b7f3b"),
}


def listed(values) -> str:
    """``(1, 2, 4, 8)`` as ``"1, 2, 4, 8"``."""
    return ", ".join(f"{value:g}" for value in values)


# ----------------------------------------------------------------------------------------------
# Drawing pieces: a canvas in inches, boxes with anchors, arrows along polylines, labels
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """A box by its lower-left corner and size, in inches, with anchors on its edges."""

    x: float
    y: float
    width: float
    height: float

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    def left(self, dy: float = 0.0):
        return (self.x, self.cy + dy)

    def right(self, dy: float = 0.0):
        return (self.x + self.width, self.cy + dy)

    def top(self, dx: float = 0.0):
        return (self.cx + dx, self.y + self.height)

    def bottom(self, dx: float = 0.0):
        return (self.cx + dx, self.y)


def canvas(height: float):
    """A figure ``WIDTH x height`` inches whose one axis counts inches from the lower left."""
    figure = pyplot().figure(figsize=(WIDTH, height), dpi=DPI)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set(xlim=(0, WIDTH), ylim=(0, height))
    axis.set_axis_off()
    return figure, axis


CENTRED = {"ha": "center", "va": "center"}
HEAD = {"arrowstyle": "-|>", "mutation_scale": 13, "shrinkA": 0, "shrinkB": 0, "zorder": 1}


def box(axis, geometry, text="", kind="layer", title=None, size=SMALL, **options) -> Box:
    """A rounded box ``geometry = (x, y, width, height)`` with centred ``text``, below a bold
    ``title`` when given.

    The patch's ``gid`` is ``kind:number`` and that of its texts ``kind:number:text``, so
    that a test can check that every text stays inside its box.
    """
    from matplotlib.patches import FancyBboxPatch

    box = Box(*geometry)
    face, edge = KINDS[kind]
    gid = f"{kind}:{len(axis.patches)}"
    style = {"boxstyle": "round,pad=0,rounding_size=0.07", "linewidth": 1.3, "zorder": 2}
    patch = FancyBboxPatch((box.x, box.y), box.width, box.height, fc=face, ec=edge, **style)
    axis.add_patch(patch)
    patch.set_gid(gid)
    centre, top = box.cy, box.y + box.height
    if title:
        bold = {"size": TEXT + 0.5, "weight": "bold", **CENTRED}
        axis.text(box.cx, top - 0.2, title, zorder=3, gid=f"{gid}:text", **bold)
        centre = box.y + (box.height - 0.3) / 2
    if text:
        options = {"linespacing": 1.35, **CENTRED, **options}
        axis.text(box.cx, centre, text, size=size, zorder=3, gid=f"{gid}:text", **options)
    return box


def adder(axis, centre, radius: float = 0.13) -> Box:
    """A ``+`` node at ``centre``, returned as a box for its anchors."""
    from matplotlib.patches import Circle

    axis.add_patch(Circle(centre, radius, facecolor="white", edgecolor=FORWARD, lw=1.3, zorder=2))
    axis.text(*centre, "+", size=12, zorder=3, gid="operator", **CENTRED)
    return Box(centre[0] - radius, centre[1] - radius, 2 * radius, 2 * radius)


def arrow(axis, *points, style: str = "forward"):
    """A line through ``points`` (inches) in ``style`` (:data:`ARROWS`), its head at the end."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    colour, line_style, width = ARROWS[style]
    xs, ys = zip(*points, strict=True)
    axis.add_line(Line2D(xs, ys, color=colour, linestyle=line_style, linewidth=width, zorder=1))
    end = np.asarray(points[-1], float)
    direction = end - np.asarray(points[-2], float)
    start = end - 0.01 * direction / np.linalg.norm(direction)  # the head alone, solid
    head = FancyArrowPatch(tuple(start), tuple(end), color=colour, linewidth=width, **HEAD)
    axis.add_patch(head)
    head.set_gid(f"arrow:{style}")


def label(axis, x, y, text, size=SMALL, background=False, **options):
    """A free annotation; on a white ``background`` it reads over lines."""
    options = {"linespacing": 1.3, **CENTRED, **options}
    if background:
        options["bbox"] = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
    return axis.text(x, y, text, size=size, zorder=4, gid="label", **options)


def legend(axis, y, entries, x=0.2, spacing=0.3):
    """A legend row at height ``y``: ``(style, text)`` entries, a line sample each (or none)."""
    renderer = axis.figure.canvas.get_renderer()
    inches = axis.figure.dpi_scale_trans.inverted()
    for style, text in entries:
        if style is not None:
            arrow(axis, (x, y), (x + 0.45, y), style=style)
            x += 0.55
        shown = label(axis, x, y, text, ha="left")
        x += shown.get_window_extent(renderer).transformed(inches).width + spacing


def grid_icon(axis, x, y, cell, colours, marks=None, edge="white") -> Box:
    """A small code grid, row 0 on top: ``colours[i][j]`` fills cell ``(i, j)``, and a red
    frame marks the cells where ``marks[i][j]``."""
    from matplotlib.patches import Rectangle

    rows, columns = len(colours), len(colours[0])
    for row in range(rows):
        for column in range(columns):
            corner = (x + column * cell, y + (rows - 1 - row) * cell)
            fill = colours[row][column]
            axis.add_patch(Rectangle(corner, cell, cell, fc=fill, ec=edge, lw=0.6, zorder=2))
            if marks is not None and marks[row][column]:
                frame = Rectangle(corner, cell, cell, fc="none", ec=GRADIENT, lw=1.6, zorder=3)
                axis.add_patch(frame)
    return Box(x, y, columns * cell, rows * cell)


def slice_icon(axis, box: Box, lesion: str | None = None):
    """A schematic slice filling ``box``: a grey brain on black, ``lesion`` None, ``"bright"``
    (a bright blob in it) or ``"map"`` (black but for the blob, as an anomaly map)."""
    from matplotlib.patches import Ellipse, Rectangle

    axis.add_patch(Rectangle((box.x, box.y), box.width, box.height, color="black", zorder=2))
    if lesion != "map":
        for scale, grey in ((0.8, "0.55"), (0.5, "0.75")):
            size = (box.width * scale * 0.85, box.height * scale)
            axis.add_patch(Ellipse((box.cx, box.cy), *size, color=grey, zorder=2))
    if lesion is not None:
        centre = (box.cx + box.width * 0.14, box.cy + box.height * 0.14)
        colour = "#ffe680" if lesion == "map" else "white"
        axis.add_patch(Ellipse(centre, box.width * 0.2, box.height * 0.16, color=colour, zorder=3))


# ----------------------------------------------------------------------------------------------
# 1. The roadmap of the series
# ----------------------------------------------------------------------------------------------
#: The series as the roadmap draws it, per notebook: its folder under ``run_dir``, title,
#: one-line purpose, what it writes to its folder, and what the next notebook takes from
#: the ones before (``passes_on``; ``passed_files``: the files among it).
