"""The gated PixelCNN block: its stacks, shifts and position network, with block 1's receptive
field (:data:`BLOCK_1_FIELD`, :func:`draw_gated_block`).
"""

from __future__ import annotations

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.diagrams.shown import shown_values

__all__ = [
    "BLOCK_1_FIELD",
    "draw_gated_block",
]


#: What the horizontal output of block 1 at ``(i, j)`` depends on, as ``(row, column)``
#: offsets, for ``k = 3, d = 1``: the vertical stack through ``down_shift`` (the two rows
#: above, three columns) and the horizontal stack through ``right_shift`` (the two codes to
#: the left). The test checks it against a ``GatedBlock`` by perturbing its inputs.
BLOCK_1_FIELD = {
    "vertical": tuple((row, column) for row in (-2, -1) for column in (-1, 0, 1)),
    "horizontal": ((0, -2), (0, -1)),
}

_FIELD_COLOURS = {"vertical": "#8fbbe3", "horizontal": "#f0cd5a"}


def _receptive_field_inset(axis, centre_x, bottom):
    """A 4 x 5 grid around ``(i, j)`` coloured by :data:`BLOCK_1_FIELD`, with its key."""
    rows, columns, cell = (-2, -1, 0, 1), (-2, -1, 0, 1, 2), 0.24
    colours = [["white"] * len(columns) for _ in rows]
    for stack, offsets in BLOCK_1_FIELD.items():
        for row, column in offsets:
            colours[rows.index(row)][columns.index(column)] = _FIELD_COLOURS[stack]
    left = centre_x - cell * len(columns) / 2
    grid = kit.grid_icon(axis, left, bottom + 0.5, cell, colours, edge="0.6")
    star_row = len(rows) - 1 - rows.index(0)
    star = (grid.x + (columns.index(0) + 0.5) * cell, grid.y + (star_row + 0.5) * cell)
    axis.plot(*star, "*", color=kit.GRADIENT, markersize=11, zorder=4)
    kit.label(axis, centre_x, grid.y + grid.height + 0.2, "block 1's h out at ★ sees:")
    kit.label(axis, centre_x, bottom + 0.2, "blue: via down_shift\nyellow: via right_shift")


def _block_header(axis, height):
    """The gated block's title and the settings it is drawn with."""
    shown = shown_values()
    title = f"GatedBlock: one of the prior's L = {shown['num_layers']} blocks"
    kit.label(
        axis,
        kit.WIDTH / 2,
        height - 0.22,
        f"{title} (oasis_helpers.prior.model)",
        size=kit.TEXT + 1,
        weight="bold",
    )
    settings = (
        f"C = {shown['hidden_channels']} channels, k = {shown['kernel_size']}, n = k // 2; "
        f"dilation d: ({kit.listed(shown['dilations'])}) over the blocks; each gate splits 2C "
        "channels into [a, b];\nno masked kernels: causal by zero padding and the two shifts"
    )
    kit.label(axis, kit.WIDTH / 2, height - 0.55, settings)


def _position_network(axis, left, width):
    """The position network, top to bottom; returns the box of its features ``f``."""
    shown = shown_values()
    title = "position network\n(shared by all blocks)"
    kit.label(axis, left + width / 2, 5.55, title, weight="bold")
    frequencies = kit.listed(shown["feature_frequencies"])
    features = shown["position_features"]
    stages = [
        (4.45, 0.72, "grid coordinates\n" r"$i/(h-1),\ j/(w-1)$" "\nand slice height", "tensor"),
        (
            3.5,
            0.72,
            "Fourier features\n" r"$[u, \sin \pi f u, \cos \pi f u]$" f"\nf = {frequencies}",
            "layer",
        ),
        (2.7, 0.55, f"position_hidden\nDense({shown['position_hidden']}, relu)", "layer"),
        (1.9, 0.55, f"position_features\nDense({features}, tanh)", "layer"),
        (1.1, 0.5, f"f: [B, h, w, {features}]", "tensor"),
    ]
    boxes = [kit.box(axis, (left, y, width, size), text, kind) for y, size, text, kind in stages]
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        kit.arrow(axis, upper.bottom(), lower.top())
    return boxes[-1]


def draw_gated_block():
    """One ``GatedBlock`` of the prior as ``oasis_helpers.prior.model`` builds it.

    Read from the bottom. Vertical stack: ``vertical_conv`` (an ``(n+1) x k`` kernel over
    the rows above and the row itself, zero-padded), plus the position bias, gated. Its
    pre-activation, shifted down one row (``down_shift``: rows above only) and through
    ``vertical_to_horizontal``, joins the horizontal stack, which sees its own row up to
    the position (``horizontal_conv``, ``1 x (n+1)``; block 1 first shifts its input right
    one column, so that no position sees its own code). Together: everything above and to
    the left, no blind spot. Each stack's gate is ``tanh(a) * sigmoid(b)`` of its ``2C``
    channels split in two; the horizontal output adds ``h`` back (residual) from block 2
    on. The position network turns the grid coordinates and the slice's height into
    shared features ``f`` that give each block's gate biases.
    """
    height = 8.45
    figure, axis = kit.canvas(height)
    _block_header(axis, height)
    vx, gx, hx, px = 0.2, 2.62, 4.72, 7.32  # left edges: vertical, gap, horizontal, position
    column, gap = 2.2, 1.88  # widths
    gate = r"$\tanh(a) \odot \sigma(b)$"
    # the vertical stack, bottom to top
    v_in = "v: vertical stack\nblock 1: Embedding(K, C)(codes)"
    v_in = kit.box(axis, (vx, 0.45, column, 0.6), v_in, "tensor")
    v_conv = "(n+1) × k kernel, dilation d;\nzero-padded n·d rows above,\nn·d columns either side"
    v_conv = kit.box(axis, (vx, 1.6, column, 0.95), v_conv, title="vertical_conv")
    v_add = kit.adder(axis, (v_in.cx, 3.1))
    v_gate = kit.box(axis, (vx, 4.85, column, 0.6), gate, title="gate", size=kit.TEXT)
    v_out = kit.box(axis, (vx, 7.0, column, 0.55), "v out: the next block's v", "tensor")
    for lower, upper in [(v_in, v_conv), (v_conv, v_add), (v_add, v_gate), (v_gate, v_out)]:
        kit.arrow(axis, lower.top(), upper.bottom())
    branch = 3.85
    kit.label(axis, v_in.cx - 0.1, branch, r"$v_{pre}$: 2C", ha="right")
    kit.label(axis, v_in.cx + 0.1, 5.95, "C channels", ha="left")
    # the horizontal stack, bottom to top
    h_in = kit.box(
        axis, (hx, 0.45, column, 0.6), "h: horizontal stack\nblock 1: the same embedding", "tensor"
    )
    shift = kit.box(
        axis, (hx, 1.25, column, 0.5), "right_shift: one column\n(block 1 only)", "shift"
    )
    h_conv = "1 × (n+1) kernel, dilation d;\nzero-padded n·d columns\non the left"
    h_conv = kit.box(axis, (hx, 1.95, column, 0.9), h_conv, title="horizontal_conv")
    h_bias_add = kit.adder(axis, (h_in.cx, 3.1))
    h_link_add = kit.adder(axis, (h_in.cx, 4.5))
    h_gate = kit.box(axis, (hx, 4.85, column, 0.6), gate, title="gate", size=kit.TEXT)
    h_output = kit.box(axis, (hx, 5.7, column, 0.5), "Conv 1×1, C", title="horizontal_output")
    residual = kit.adder(axis, (h_in.cx, 6.6))
    h_out = kit.box(
        axis, (hx, 7.0, column, 0.55), "h out: the next block's h\n(last block: the head)", "tensor"
    )
    stack = [h_in, shift, h_conv, h_bias_add, h_link_add, h_gate, h_output, residual, h_out]
    for lower, upper in zip(stack, stack[1:], strict=False):
        kit.arrow(axis, lower.top(), upper.bottom())
    riser = hx + column + 0.2
    kit.arrow(axis, h_in.right(), (riser, h_in.cy), (riser, residual.cy), residual.right())
    kit.label(axis, riser + 0.08, 6.25, "residual: + h\n(from block 2)", ha="left")
    # between the stacks: the position biases and the vertical-to-horizontal link
    bias = "vertical_position_bias,\nhorizontal_position_bias:\nDense(2C) each, of f"
    bias = kit.box(axis, (gx, 2.75, gap, 0.7), bias)
    kit.arrow(axis, bias.left(), v_add.right())
    kit.arrow(axis, bias.right(), h_bias_add.left())
    down = kit.box(axis, (gx + 0.25, 3.63, gap - 0.5, 0.45), "down_shift: one row", "shift")
    link = kit.box(axis, (gx, 4.25, gap, 0.5), "Conv 1×1, 2C", title="vertical_to_horizontal")
    kit.arrow(axis, (v_in.cx, branch), down.left(branch - down.cy))
    axis.plot(v_in.cx, branch, "o", color=kit.FORWARD, markersize=4, zorder=3)
    kit.arrow(axis, down.top(), link.bottom())
    kit.arrow(axis, link.right(), h_link_add.left())
    _receptive_field_inset(axis, gx + gap / 2, 5.2)
    features = _position_network(axis, px, 1.53)
    bus = 0.22  # under the inputs, up between the stacks
    kit.arrow(axis, features.bottom(), (features.cx, bus), (bias.cx, bus), bias.bottom())
    return figure
