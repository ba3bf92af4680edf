"""What a position of the prior sees: measured receptive fields, and a plain PixelCNN's.

Notebook 04 draws both to teach the blind spot of a single masked stack and its removal by
the gated PixelCNN's two stacks. :func:`receptive_field_map` measures the trained model by
perturbing one code at a time (so it checks the masks too);
:func:`plain_pixelcnn_receptive_field` propagates a plain masked stack's field by hand.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oasis_helpers.prior.likelihood import prior_logits
from oasis_helpers.prior.model import GatedPixelCNN

__all__ = ["plain_pixelcnn_receptive_field", "receptive_field_map"]


def receptive_field_map(
    model: GatedPixelCNN, height: int, width: int, target: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Which codes the logits at ``target = (row, column)`` depend on, measured by perturbation.

    Changes one code at a time (each to another value) and records whether the
    logits at ``target`` change: bool ``[height, width]``. Measured, not derived
    from the architecture, so it also checks the masks.
    """
    row, column = target
    rng = np.random.default_rng(0)
    base = rng.integers(0, model.num_embeddings, (height, width)).astype(np.int32)
    grids = np.repeat(base[None], height * width + 1, axis=0)
    for index in range(height * width):
        grids[index + 1].flat[index] = (base.flat[index] + 1) % model.num_embeddings
    slice_heights = np.full(len(grids), 0.5, np.float32) if model.conditional else None
    logits = prior_logits(model, grids, slice_heights)[:, row, column]
    changed = np.abs(logits[1:] - logits[:1]).max(axis=-1) > 1e-6
    return changed.reshape(height, width)


def plain_pixelcnn_receptive_field(
    num_layers: int, kernel_size: int, height: int, width: int, target: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Receptive field ``[height, width]`` (bool) of a plain masked PixelCNN (one stack).

    The original PixelCNN stacks ``k x k`` convolutions whose mask keeps the rows
    above and the codes left of the centre (type A; type B also the centre). A
    position's field is propagated back layer by layer; the part above-right that
    it never reaches is the blind spot that the two-stack design removes.
    """
    reach = kernel_size // 2
    field = np.zeros((height, width), bool)
    field[target] = True
    for layer in reversed(range(num_layers)):
        grown = np.zeros_like(field)
        for row, column in zip(*np.nonzero(field), strict=True):
            for d_row in range(-reach, 1):
                for d_column in range(-reach, reach + 1):
                    if d_row == 0 and (d_column > 0 or (d_column == 0 and layer == 0)):
                        continue
                    source = (row + d_row, column + d_column)
                    if 0 <= source[0] < height and 0 <= source[1] < width:
                        grown[source] = True
        field = grown
    return field
