"""plots.diagram_kit: the boxes, arrows and labels the diagrams are drawn with."""

import pytest

from oasis_helpers.plots import diagram_kit as kit

pytestmark = pytest.mark.usefixtures("close_figures")


def test_a_canvas_is_a_notebook_cell_wide_and_counts_inches():
    figure, axis = kit.canvas(2.0)
    assert figure.get_figwidth() * figure.dpi == kit.WIDTH * kit.DPI == 900
    assert axis.get_xlim() == (0, kit.WIDTH) and axis.get_ylim() == (0, 2.0)


def test_a_box_knows_its_sides_and_tags_its_texts():
    figure, axis = kit.canvas(2.0)
    shown = kit.box(axis, (1.0, 0.5, 2.0, 1.0), "inside", title="name")
    assert (shown.cx, shown.cy) == (2.0, 1.0)
    assert shown.left() == (1.0, 1.0) and shown.right(0.1) == (3.0, 1.1)
    assert shown.top() == (2.0, 1.5) and shown.bottom(-0.5) == (1.5, 0.5)
    texts = {text.get_text(): text.get_gid() for text in axis.texts}
    assert set(texts) == {"inside", "name"}
    patch_gids = {patch.get_gid() for patch in axis.patches}
    assert all(gid.rsplit(":", 1)[0] in patch_gids for gid in texts.values())


def test_arrows_take_the_style_of_their_kind_and_a_legend_shows_each_kind():
    figure, axis = kit.canvas(2.0)
    kit.arrow(axis, (0.5, 0.5), (2.0, 0.5), style="gradient")
    kit.legend(axis, 1.5, [("forward", "forward pass"), ("gradient", "gradient")])
    colours = {tuple(patch.get_edgecolor()[:3]) for patch in axis.patches}
    assert len(colours) == 2  # forward and gradient arrows differ
    labels = [text for text in axis.texts if text.get_text() in ("forward pass", "gradient")]
    assert labels[0].get_position()[0] < labels[1].get_position()[0]  # left to right
    with pytest.raises(KeyError):
        kit.arrow(axis, (0, 0), (1, 1), style="no such style")
