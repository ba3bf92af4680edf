"""The VQ-VAE's forward and gradient paths: straight-through, and what each loss trains
(:func:`draw_vqvae_gradients`).
"""

from __future__ import annotations

from oasis_helpers.plots import diagram_kit as kit
from oasis_helpers.plots.diagrams.shown import shown_values

__all__ = [
    "draw_vqvae_gradients",
]


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
    shown = shown_values()
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
    shape = rf"$[K, D] = [{shown['num_embeddings']}, {shown['embedding_dim']}]$"
    title = r"codebook $e_1 \ldots e_K$"
    codebook = kit.box(axis, (nearest.cx - 0.75, 2.07, 1.5, 0.62), shape, "codebook", title)
    kit.arrow(axis, codebook.top(), nearest.bottom())
    link = 2.38
    kit.arrow(axis, z_e.bottom(0.13), (z_e.cx + 0.13, link), codebook.left(), style="update")
    ema = (
        rf"EMA ('ema', the default; decay {shown['ema_decay']:g}): each $e_k$ moves"
        "\n"
        r"to the moving average of the $z_e$ assigned to it"
    )
    kit.label(axis, codebook.cx, 1.72, ema)
    commitment = (
        r"$\beta\ \mathrm{mean}((z_e - \mathrm{sg}[e_k])^2)$, "
        rf"$\beta = {shown['commitment_cost']:g}$"
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
