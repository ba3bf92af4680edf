"""plots.diagrams.saving: every diagram is clean at notebook width (no small, overlapping or
escaping text), the files are written, and plots re-exports the diagrams."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.text
import pytest

from oasis_helpers import plots
from oasis_helpers.plots import diagram_kit, diagrams

pytestmark = pytest.mark.usefixtures("close_figures")


ROOT = Path(__file__).resolve().parents[1]


def _overlap(first, second, margin: float = 1.0) -> bool:
    """Whether two display boxes overlap by more than ``margin`` pixels each way."""
    return (
        first.x0 + margin < second.x1
        and second.x0 + margin < first.x1
        and first.y0 + margin < second.y1
        and second.y0 + margin < first.y1
    )


def _layout_problems(figure) -> list[str]:
    """Small fonts, texts that overlap or leave the figure, box texts outside their box, and
    free texts over a box."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [text for text in figure.findobj(matplotlib.text.Text) if text.get_text().strip()]
    extents = {id(text): text.get_window_extent(renderer) for text in texts}
    boxes = {patch.get_gid(): patch.get_window_extent(renderer) for patch in figure.axes[0].patches}
    boxes = {gid: extent for gid, extent in boxes.items() if gid and ":" in gid}
    boxes = {gid: extent for gid, extent in boxes.items() if not gid.startswith("arrow")}
    frame = figure.bbox
    problems = []
    for text in texts:
        extent, words = extents[id(text)], repr(text.get_text())
        if text.get_fontsize() < diagram_kit.MIN_FONT_SIZE:
            problems.append(f"{text.get_fontsize()} pt: {words}")
        if not (frame.x0 <= extent.x0 and extent.x1 <= frame.x1 + 0.5):
            problems.append(f"leaves the figure: {words}")
        if not (frame.y0 <= extent.y0 and extent.y1 <= frame.y1 + 0.5):
            problems.append(f"leaves the figure: {words}")
        gid = text.get_gid() or ""
        if gid.endswith(":text"):
            box = boxes[gid.removesuffix(":text")]
            inside = box.x0 + 2 <= extent.x0 and extent.x1 <= box.x1 - 2
            if not (inside and box.y0 + 1 <= extent.y0 and extent.y1 <= box.y1 - 1):
                problems.append(f"leaves its box: {words}")
        elif any(_overlap(extent, box) for box in boxes.values()):
            problems.append(f"over a box: {words}")
    for first, second in itertools.combinations(texts, 2):
        if _overlap(extents[id(first)], extents[id(second)]):
            problems.append(f"overlap: {first.get_text()!r} and {second.get_text()!r}")
    return problems


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_every_diagram_is_900_pixels_wide_with_readable_text_that_nothing_hides(name):
    figure = diagrams.DIAGRAMS[name]()
    assert figure.get_figwidth() * diagram_kit.DPI == 900
    assert _layout_problems(figure) == []


def test_the_layout_check_finds_small_overlapping_and_escaping_text():
    figure = diagrams.draw_roadmap()
    axis = figure.axes[0]
    title = next(text for text in figure.axes[0].texts if text.get_text() == "01 · data loader")
    axis.text(*title.get_position(), "01 · data loader", size=8)  # small, on the first title
    axis.text(diagram_kit.WIDTH - 0.1, 0.2, "past the edge")
    diagram_kit.box(axis, (7.0, 0.05, 0.4, 0.3), "too long for its box")
    problems = "\n".join(_layout_problems(figure))
    assert "8.0 pt: '01 · data loader'" in problems
    assert "leaves its box: 'too long for its box'" in problems
    assert "over a box: '01 · data loader'" in problems
    assert "overlap: '01 · data loader'" in problems
    assert "leaves the figure: 'past the edge'" in problems


def test_plots_reexports_the_diagrams():
    for name in ["draw_roadmap", "draw_vqvae_gradients", "draw_gated_block", "save_diagrams"]:
        assert getattr(plots, name) is getattr(diagrams, name)
    assert plots.draw_restoration_pipeline is diagrams.draw_restoration_pipeline
    assert plots.DIAGRAMS is diagrams.DIAGRAMS


def test_save_diagrams_writes_four_pngs_900_pixels_wide_and_docs_holds_them(tmp_path):
    from PIL import Image

    paths = diagrams.save_diagrams(tmp_path / "docs")
    expected = ["roadmap", "vqvae_gradients", "gated_block", "restoration_pipeline"]
    assert [path.name for path in paths] == [f"{name}.png" for name in expected]
    for path in paths:
        assert path.stat().st_size > 10_000
        with Image.open(path) as image:
            assert image.width == 900
            with Image.open(ROOT / "docs" / path.name) as committed:  # regenerated after changes
                assert committed.size == image.size, path.name
