"""Diagrams of the series, drawn with matplotlib boxes, arrows and labels: the roadmap of the
five notebooks, the VQ-VAE's gradient paths, the gated PixelCNN block and notebook 05's
restoration pipeline.

Each ``draw_<name>()`` returns a ``Figure`` :data:`kit.WIDTH` inches wide, which
:func:`save_diagrams` saves at :data:`kit.DPI` as ``<name>.png`` of 900 pixels, the width of a
notebook cell, with no text smaller than :data:`kit.MIN_FONT_SIZE` points. The committed
copies are in ``docs/`` (the README and the notebooks show them); ``python
docs/draw_diagrams.py`` draws them again.

What a diagram says about the package (file names, defaults, layer names) is written here
by hand, in :data:`ROADMAP`, :data:`SHOWN` and :data:`BLOCK_1_FIELD`, so that this module
imports only NumPy and matplotlib (the modules that define those values import
TensorFlow); ``tests/test_plots_diagrams.py`` checks them against the package and the
notebooks, so that a diagram cannot drift from the code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.figures import pyplot

__all__ = [
    "DIAGRAMS",
    "draw_gated_block",
    "draw_restoration_pipeline",
    "draw_roadmap",
    "draw_vqvae_gradients",
    "save_diagrams",
]


#: The package's values that the diagrams state, in one place; the tests compare each with
#: the package's own constant (named in the comment).
SHOWN = {
    "commitment_cost": 0.25,  # quantizer.DEFAULT_COMMITMENT_COST
    "ema_decay": 0.95,  # quantizer.DEFAULT_EMA_DECAY
    "num_embeddings": 256,  # models.DEFAULT_CONFIG
    "embedding_dim": 16,  # models.DEFAULT_CONFIG
    "hidden_channels": 32,  # prior.DEFAULT_PRIOR
    "kernel_size": 3,  # prior.DEFAULT_PRIOR
    "num_layers": 4,  # prior.DEFAULT_PRIOR
    "dilations": (1, 2, 4, 8),  # prior.DEFAULT_PRIOR
    "feature_frequencies": (1, 2, 4, 8),  # prior.DEFAULT_PRIOR
    "position_hidden": 64,  # prior.model.POSITION_HIDDEN
    "position_features": 32,  # prior.model.POSITION_FEATURES
    "flag_smoothing": 3,  # anomaly.DEFAULT_FLAG_SMOOTHING
    "flag_dilation": 1,  # anomaly.DEFAULT_FLAG_DILATION
    "flag_quantiles": (0.02, 0.01, 0.005),  # anomaly.DEFAULT_FLAG_QUANTILES
    "restoration_quantile": 0.5,  # anomaly.DEFAULT_RESTORATION_QUANTILE
    "num_restorations": 3,  # anomaly.DEFAULT_NUM_RESTORATIONS (notebook 05's maximum)
    "difference_smoothing": 1.0,  # anomaly.DEFAULT_DIFFERENCE_SMOOTHING
    "median_size": 5,  # anomaly.DEFAULT_MEDIAN_SIZE
}

ROADMAP = (
    {
        "stem": "01_data_loader",
        "title": "01 · data loader",
        "purpose": "OASIS (or the demo cohort) as 2D slices, split by subject",
        "writes": ("metrics.json", "figures"),
        "passes_on": "the source: data_dir, image_size, seed; every later notebook\n"
        "loads the same slices and splits with data.load_slices",
        "passed_files": (),
    },
    {
        "stem": "02_vector_quantizer",
        "title": "02 · vector quantizer",
        "purpose": "nearest code, straight-through gradient, losses, codebook health",
        "writes": ("metrics.json", "figures"),
        "passes_on": "the quantizer layer and its defaults, through the package\n"
        f"(quantizer.VectorQuantizerEMA: β = {SHOWN['commitment_cost']:g}, "
        f"decay {SHOWN['ema_decay']:g})",
        "passed_files": (),
    },
    {
        "stem": "03_train_vqvae",
        "title": "03 · train the VQ-VAE",
        "purpose": "encoder → quantizer → decoder; every slice as a grid of codes",
        "writes": ("vqvae.keras", "codes.npz", "metrics.json", "training/<hash>/", "figures"),
        "passes_on": "vqvae.keras, codes.npz",
        "passed_files": ("vqvae.keras", "codes.npz"),
    },
    {
        "stem": "04_pixelcnn_prior",
        "title": "04 · PixelCNN prior",
        "purpose": "a gated PixelCNN learns p(code grid) and samples new slices",
        "writes": ("prior.keras", "samples.npz", "metrics.json", "training/<hash>/", "figures"),
        "passes_on": "prior.keras  (and from 03: vqvae.keras, codes.npz)",
        "passed_files": ("prior.keras", "vqvae.keras", "codes.npz"),
    },
    {
        "stem": "05_anomaly_detection",
        "title": "05 · anomaly detection",
        "purpose": "lesion maps: residual, prior surprise, restoration by healing",
        "writes": ("blind_spot/<hash>/blind_spot.keras", "metrics.json", "figures (maps, ROC/PR)"),
        "passes_on": None,
        "passed_files": (),
    },
)


def _file_lines(names, per_line: int = 38) -> str:
    """Comma-separated ``names`` broken into lines of at most ``per_line`` characters."""
    lines = [names[0]]
    for name in names[1:]:
        if len(f"{lines[-1]}, {name}") > per_line:
            lines[-1] += ","
            lines.append(name)
        else:
            lines[-1] += f", {name}"
    return "\n".join(lines)


def draw_roadmap():
    """The series at a glance: notebooks 01 to 05, what each is for, writes and passes on.

    Left, one box per notebook with its one-line purpose; on the arrows between them, what
    the next notebook takes from those before (files under ``run_dir``, or the data source
    and the package's layers), with notebook 05 also reading notebook 03's files. Right,
    what each notebook writes to ``runs/<run>/NN_name/``; each ends with its ``metrics.json``.
    """
    height = 6.1
    figure, axis = kit.canvas(height)
    left, width, box_height, gap = 0.45, 4.35, 0.64, 0.48
    files_x, files_width = 5.25, 3.5
    bold = {"size": kit.TEXT, "weight": "bold"}
    kit.label(axis, left + width / 2, height - 0.22, "notebook: what it teaches", **bold)
    kit.label(
        axis, files_x + files_width / 2, height - 0.22, "writes to runs/<run>/NN_name/", **bold
    )
    boxes, top = [], height - 0.45
    for step in ROADMAP:
        y = top - box_height
        box = kit.box(axis, (left, y, width, box_height), step["purpose"], title=step["title"])
        files = _file_lines(step["writes"])
        files = kit.box(
            axis, (files_x, y, files_width, box_height), files, "files", family=kit.MONO
        )
        kit.arrow(axis, box.right(), files.left())
        boxes.append(box)
        top = y - gap
    arrow_x = left + 0.3
    for step, upper, lower in zip(ROADMAP, boxes, boxes[1:], strict=False):
        kit.arrow(axis, upper.bottom(arrow_x - upper.cx), lower.top(arrow_x - lower.cx))
        middle = (upper.y + lower.y + lower.height) / 2
        family = kit.MONO if step["passed_files"] else None
        kit.label(axis, arrow_x + 0.15, middle, step["passes_on"], ha="left", family=family)
    three, five = boxes[2], boxes[4]  # notebook 05 reads notebook 03's files too
    kit.arrow(axis, three.left(), (0.2, three.cy), (0.2, five.cy), five.left())
    note = (
        "run_dir = runs/<run> (default runs/demo); a notebook that misses an earlier one's "
        "file says which notebook to run first"
    )
    kit.label(axis, kit.WIDTH / 2, 0.2, note)
    return figure


# ----------------------------------------------------------------------------------------------
# 2. The VQ-VAE and its gradient paths
# ----------------------------------------------------------------------------------------------
def draw_vqvae_gradients():
    """The VQ-VAE's forward pass and where each loss's gradient goes (``oasis_helpers.quantizer``).

    Forward (solid): ``x -> encoder -> z_e -> nearest code e_k -> z_q -> decoder -> x_hat``.
    Gradients (dashed): ``reconstruction_loss`` trains the decoder and, past the argmin,
    which has no gradient, the encoder: the quantizer passes on ``z_e + sg[z_q - z_e]``
    (straight-through), whose value is ``z_q`` and whose gradient is copied to ``z_e``.
    ``codebook_loss = mean((sg[z_e] - e_k)^2)`` moves the codes; with the EMA quantizer (the
    default) the codes follow moving averages of their ``z_e`` instead (dotted, no
    gradient). ``commitment_loss = beta * mean((z_e - sg[e_k])^2)`` moves the encoder.
    """
    height = 5.9
    figure, axis = kit.canvas(height)
    legend = [
        ("forward", "forward pass"),
        ("gradient", "gradient"),
        ("update", "EMA update (no gradient)"),
        (None, r"$\mathrm{sg}[\cdot]$: stop-gradient, a constant for the gradient"),
    ]
    kit.legend(axis, height - 0.28, legend)
    row, big = 3.62, {"kind": "tensor", "size": 12}
    lookup = r"$k = \mathrm{argmin}_j\ \|z_e - e_j\|^2$" "\n" r"$z_q = e_k$  (argmin: no gradient)"
    x = kit.box(axis, (0.2, row - 0.25, 0.55, 0.5), r"$x$", **big)
    encoder = kit.box(axis, (1.05, row - 0.4, 1.1, 0.8), "encoder", size=kit.TEXT)
    z_e = kit.box(axis, (2.45, row - 0.25, 0.6, 0.5), r"$z_e$", **big)
    nearest = kit.box(
        axis, (3.33, row - 0.6, 2.17, 1.2), lookup, "codebook", "quantizer: nearest code"
    )
    z_q = kit.box(axis, (5.75, row - 0.25, 0.6, 0.5), r"$z_q$", **big)
    decoder = kit.box(axis, (6.65, row - 0.4, 1.1, 0.8), "decoder", size=kit.TEXT)
    x_hat = kit.box(axis, (8.1, row - 0.25, 0.6, 0.5), r"$\hat{x}$", **big)
    chain = [x, encoder, z_e, nearest, z_q, decoder, x_hat]
    for before, after in zip(chain, chain[1:], strict=False):
        kit.arrow(axis, before.right(), after.left())
    back = -0.14  # gradients run below the forward arrows, right to left
    for later, earlier in [(x_hat, decoder), (decoder, z_q), (z_e, encoder)]:
        kit.arrow(axis, later.left(back), earlier.right(back), style="gradient")
    difference = r"$\mathrm{mean}((x - \hat{x})^2)$"
    reconstruction = kit.box(
        axis, (6.75, 4.57, 2.05, 0.62), difference, "loss", "reconstruction_loss"
    )
    kit.arrow(axis, x_hat.top(-0.1), (x_hat.cx - 0.1, reconstruction.y))
    kit.arrow(axis, (x_hat.cx + 0.1, reconstruction.y), x_hat.top(0.1), style="gradient")
    lane = 4.5  # straight-through: past the quantizer, from z_q to z_e
    kit.arrow(axis, z_q.top(), (z_q.cx, lane), (z_e.cx, lane), z_e.top(), style="gradient")
    straight_through = (
        r"straight-through: the quantizer passes on $z_q = z_e + \mathrm{sg}[z_q - z_e]$,"
        "\n"
        r"so the gradient at $z_q$ is copied to $z_e$"
    )
    kit.label(axis, (z_e.cx + z_q.cx) / 2, lane + 0.3, straight_through)
    shape = rf"$[K, D] = [{SHOWN['num_embeddings']}, {SHOWN['embedding_dim']}]$"
    title = r"codebook $e_1 \ldots e_K$"
    codebook = kit.box(axis, (nearest.cx - 0.75, 2.07, 1.5, 0.62), shape, "codebook", title)
    kit.arrow(axis, codebook.top(), nearest.bottom())
    link = 2.38
    kit.arrow(axis, z_e.bottom(0.13), (z_e.cx + 0.13, link), codebook.left(), style="update")
    ema = (
        rf"EMA ('ema', the default; decay {SHOWN['ema_decay']:g}): each $e_k$ moves"
        "\n"
        r"to the moving average of the $z_e$ assigned to it"
    )
    kit.label(axis, codebook.cx, 1.72, ema)
    commitment = (
        r"$\beta\ \mathrm{mean}((z_e - \mathrm{sg}[e_k])^2)$, "
        rf"$\beta = {SHOWN['commitment_cost']:g}$"
        "\n"
        r"moves the encoder: keeps $z_e$ near its code"
    )
    commitment = kit.box(axis, (0.2, 0.62, 3.05, 0.85), commitment, "loss", "commitment_loss")
    kit.arrow(
        axis, commitment.top(z_e.cx - 0.13 - commitment.cx), z_e.bottom(-0.13), style="gradient"
    )
    codebook_text = (
        r"$\mathrm{mean}((\mathrm{sg}[z_e] - e_k)^2)$" "\n" r"moves each code toward its $z_e$"
    )
    codebook_loss = (5.7, 0.62, 3.1, 0.85)
    codebook_loss = kit.box(
        axis, codebook_loss, codebook_text, "loss", "codebook_loss ('standard')"
    )
    riser = (codebook_loss.x + 0.3, link)
    start = codebook_loss.top(riser[0] - codebook_loss.cx)
    end = codebook.right(link - codebook.cy)
    kit.arrow(axis, start, riser, end, style="gradient")
    total = (
        "loss = reconstruction_loss + quantizer_loss, where quantizer_loss is\n"
        "codebook_loss + commitment_loss ('standard') or commitment_loss alone ('ema')"
    )
    kit.label(axis, kit.WIDTH / 2, 0.25, total)
    return figure


# ----------------------------------------------------------------------------------------------
# 3. The gated PixelCNN block
# ----------------------------------------------------------------------------------------------
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
    title = f"GatedBlock: one of the prior's L = {SHOWN['num_layers']} blocks"
    kit.label(
        axis,
        kit.WIDTH / 2,
        height - 0.22,
        f"{title} (oasis_helpers.prior.model)",
        size=kit.TEXT + 1,
        weight="bold",
    )
    settings = (
        f"C = {SHOWN['hidden_channels']} channels, k = {SHOWN['kernel_size']}, n = k // 2; "
        f"dilation d: ({kit.listed(SHOWN['dilations'])}) over the blocks; each gate splits 2C "
        "channels into [a, b];\nno masked kernels: causal by zero padding and the two shifts"
    )
    kit.label(axis, kit.WIDTH / 2, height - 0.55, settings)


def _position_network(axis, left, width):
    """The position network, top to bottom; returns the box of its features ``f``."""
    title = "position network\n(shared by all blocks)"
    kit.label(axis, left + width / 2, 5.55, title, weight="bold")
    frequencies = kit.listed(SHOWN["feature_frequencies"])
    features = SHOWN["position_features"]
    stages = [
        (4.45, 0.72, "grid coordinates\n" r"$i/(h-1),\ j/(w-1)$" "\nand slice height", "tensor"),
        (
            3.5,
            0.72,
            "Fourier features\n" r"$[u, \sin \pi f u, \cos \pi f u]$" f"\nf = {frequencies}",
            "layer",
        ),
        (2.7, 0.55, f"position_hidden\nDense({SHOWN['position_hidden']}, relu)", "layer"),
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


# ----------------------------------------------------------------------------------------------
# 4. Notebook 05's restoration pipeline
# ----------------------------------------------------------------------------------------------
_BRAIN_CODES = ("#9ecae1", "#6baed6", "#c7e9c0", "#a1d99b", "#bcbddc", "#dadaeb", "#fdd0a2")


def _code_icons(size: int = 8):
    """Schematic ``size x size`` code grids: ``(observed, healed, flagged)``.

    An elliptic brain of codes (colours) on background codes (grey) with a 2 x 2 lesion
    (orange); the flags are the lesion dilated by one code, within the brain; the healed
    grid has brain codes where the lesion was.
    """
    rows, columns = np.mgrid[:size, :size]
    centre = (size - 1) / 2
    brain = ((rows - centre) / (size * 0.45)) ** 2 + ((columns - centre) / (size * 0.38)) ** 2 <= 1
    lesion = (rows >= 2) & (rows <= 3) & (columns >= 4) & (columns <= 5)
    flagged = np.zeros_like(brain)
    for row, column in zip(*np.nonzero(lesion), strict=True):
        flagged[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2] = True
    codes = (3 * rows + 5 * columns) % len(_BRAIN_CODES)
    healed = np.where(brain, np.asarray(_BRAIN_CODES)[codes], "#4a4a4a")
    observed = np.where(lesion, "#e6550d", healed)
    return observed.tolist(), healed.tolist(), (flagged & brain).tolist()


def _pipeline_texts() -> dict[str, str]:
    """The texts of the restoration pipeline's boxes, with the package's defaults."""
    smoothing, quantiles = SHOWN["flag_smoothing"], SHOWN["flag_quantiles"]
    candidates = f"{kit.listed(quantiles[:-1])} or {quantiles[-1]:g}"
    median = SHOWN["median_size"]
    return {
        "flag": "the blind-spot model's surprise\n"
        r"$-\log_2 p(z_{ij}\,|\,$codes around it$)$"
        f"\n{smoothing}×{smoothing} mean < flag threshold,\n"
        f"dilated by {SHOWN['flag_dilation']}, brain codes only",
        "thresholds": "flag: a quantile of the blind-spot model's p\n"
        f"({candidates}: the best on validation lesions)\n"
        f"restoration: the {SHOWN['restoration_quantile']:g} quantile of the prior's p",
        "heal": "raster order; where flagged\nand "
        r"$p(z_{ij}\,|\,$healed $z_{<ij})$"
        "\nis below the restoration\nthreshold, draw a new\n"
        r"$z_{ij}$ from the prior",
        "difference": r"$|G_\sigma * (x - x_\mathrm{healed})|$"
        f"\nσ = {SHOWN['difference_smoothing']:g}, mean over\nthe R restorations",
        "post": f"brain region,\nmedian {median}×{median}",
    }


def draw_restoration_pipeline():
    """Notebook 05's restoration map (``oasis_helpers.anomaly.anomaly_maps``), schematically.

    Encode the slice to its code grid; flag the codes that the blind-spot model finds
    surprising given the codes around them (a 3 x 3 mean below the flag threshold, dilated
    by one code, brain codes only); heal in raster order: where flagged and the prior finds
    the code unlikely given the healed codes before it, draw a new one from the prior;
    decode; the map is ``|G_sigma * (x - x_healed)|`` averaged over the ``R`` restorations,
    restricted to the brain and median-filtered. Both thresholds are quantiles of what the
    models say about healthy validation slices.
    """
    height = 5.6
    figure, axis = kit.canvas(height)
    texts = _pipeline_texts()
    observed, healed, flagged = _code_icons()
    title = "notebook 05: an anomaly map by restoration (anomaly.anomaly_maps)"
    kit.label(axis, kit.WIDTH / 2, height - 0.22, title, size=kit.TEXT + 1, weight="bold")
    icon, cell = 0.72, 0.09
    top, bottom = 4.3, 1.15  # centres of the two rows
    # the top row: slice -> encode -> codes -> flag -> where to heal
    x = kit.Box(0.15, top - icon / 2, icon, icon)
    kit.slice_icon(axis, x, lesion="bright")
    encode = kit.box(
        axis, (1.1, top - 0.6, 1.15, 1.2), "VQ-VAE encoder,\nnearest code", title="encode"
    )
    codes = kit.grid_icon(axis, 2.5, top - icon / 2, cell, observed)
    flag = kit.box(axis, (3.45, top - 0.6, 2.25, 1.2), texts["flag"], title="flag")
    region = kit.grid_icon(axis, 5.95, top - icon / 2, cell, observed, marks=flagged)
    for before, after in [(x, encode), (encode, codes), (codes, flag), (flag, region)]:
        kit.arrow(axis, before.right(), after.left())
    # the thresholds, between the rows
    title = "thresholds: healthy validation slices"
    thresholds = kit.box(axis, (2.95, 2.58, 3.85, 0.85), texts["thresholds"], "threshold", title)
    kit.arrow(axis, thresholds.top(flag.cx - thresholds.cx), flag.bottom())
    # the bottom row, right to left: heal -> healed codes -> decode -> x_healed -> ... -> map
    title = f"heal (R ≤ {SHOWN['num_restorations']} times)"
    heal = kit.box(axis, (7.0, 0.4, 1.85, 1.95), texts["heal"], title=title)
    kit.arrow(axis, region.right(), (8.45, region.cy), heal.top(8.45 - heal.cx))
    kit.arrow(axis, thresholds.right(), (7.4, thresholds.cy), heal.top(7.4 - heal.cx))
    healed_codes = kit.grid_icon(axis, 6.05, bottom - icon / 2, cell, healed)
    decode = kit.box(axis, (4.95, bottom - 0.6, 0.9, 1.2), "VQ-VAE\ndecoder", title="decode")
    x_healed = kit.Box(4.0, bottom - icon / 2, icon, icon)
    kit.slice_icon(axis, x_healed)
    difference = kit.box(
        axis, (2.3, bottom - 0.6, 1.45, 1.2), texts["difference"], title="difference"
    )
    post = kit.box(axis, (1.05, bottom - 0.6, 1.05, 1.2), texts["post"], title="post-\nprocess")
    anomaly_map = kit.Box(0.15, bottom - icon / 2, icon, icon)
    kit.slice_icon(axis, anomaly_map, lesion="map")
    chain = [heal, healed_codes, decode, x_healed, difference, post, anomaly_map]
    for before, after in zip(chain, chain[1:], strict=False):
        kit.arrow(axis, before.left(bottom - before.cy), after.right())
    kit.arrow(axis, x.bottom(), (x.cx, 2.4), (difference.cx, 2.4), difference.top())
    kit.label(axis, x.cx, x.y + x.height + 0.17, r"$x$: the slice")
    captions = [
        (codes, r"$z$: its codes"),
        (region, "where to heal"),
        (healed_codes, "healed codes"),
        (x_healed, r"$x_\mathrm{healed}$"),
        (anomaly_map, "anomaly map"),
    ]
    for box, text in captions:
        kit.label(axis, box.cx, box.y - 0.17, text)
    return figure


# ----------------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------------
#: File stem -> drawing function; :func:`save_diagrams` writes ``<stem>.png`` for each.
DIAGRAMS = {
    "roadmap": draw_roadmap,
    "vqvae_gradients": draw_vqvae_gradients,
    "gated_block": draw_gated_block,
    "restoration_pipeline": draw_restoration_pipeline,
}


def save_diagrams(folder: str | os.PathLike) -> list[Path]:
    """Draw every diagram of :data:`DIAGRAMS` and save it as ``folder/<name>.png``.

    Saved at ``diagram_kit.DPI`` without cropping, so every file is exactly
    ``WIDTH * DPI`` = 900 pixels wide. Returns the paths, in the order of :data:`DIAGRAMS`.
    """
    plt = pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in DIAGRAMS.items():
        figure = draw()
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=kit.DPI, metadata={"Software": None})
        plt.close(figure)
        paths.append(path)
    return paths
