"""The prior's likelihood of code grids, in bits per code.

``-log2 p(c[i, j] | c[<i, :], c[i, <j])`` at every position (:func:`nll_map_bits`), averaged
per grid (:func:`nll_bits_per_slice`) or over all positions (:func:`nll_bits_per_code`),
from the logits of one compiled full pass (:func:`prior_logits`) and
``tfp.distributions.Categorical``. The baselines (:mod:`oasis_helpers.prior.baselines`)
report the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from oasis_helpers.code_location import check_slice_heights
from oasis_helpers.prior.inputs import check_codes, check_top_codes
from oasis_helpers.prior.model import GatedPixelCNN

__all__ = [
    "categorical",
    "compiled_logits",
    "nll_bits_per_code",
    "nll_bits_per_slice",
    "nll_map_bits",
    "prior_logits",
]

_LOG2 = math.log(2.0)


def compiled_logits(model: GatedPixelCNN):
    """The model's full pass as a ``tf.function`` ``(codes, slice_heights[, top_codes]) ->
    logits``, cached.

    Traced once per input shape and kept on the model, so that the likelihood and the
    naive sampler do not trace again on every call. ``slice_heights`` is ignored (pass an empty
    tensor) for an unconditional model; ``top_codes`` ``[B, h/f, w/f]`` is the layout of a
    two-level fine prior (``model.top_codes > 0``) and ignored otherwise.
    """

    def make():
        def logits(codes, slice_heights, top_codes=None):
            return model.logits(
                codes,
                slice_heights if model.conditional else None,
                top_codes if model.top_codes else None,
            )

        return tf.function(logits, reduce_retracing=True)

    return model.cached("compiled_logits", make)


def prior_logits(
    model: GatedPixelCNN,
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike | None = None,
    batch_size: int = 64,
    top_codes: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Logits ``[N, h, w, K]`` of ``model`` for ``codes`` ``[N, h, w]`` (compiled, batched).

    ``top_codes`` int32 ``[N, h/f, w/f]``: the layout a two-level fine prior is given.
    """
    codes = check_codes(codes, model.num_embeddings)
    slice_heights = check_slice_heights(slice_heights, len(codes), model.conditional)
    top_codes = check_top_codes(model, top_codes, codes.shape)
    function = compiled_logits(model)
    outputs = []
    for start in range(0, len(codes), batch_size):
        batch_slice_heights = (
            tf.constant(slice_heights[start : start + batch_size])
            if slice_heights is not None
            else tf.zeros((0,), tf.float32)
        )
        batch_top = (
            None if top_codes is None else tf.constant(top_codes[start : start + batch_size])
        )
        outputs.append(
            np.asarray(
                function(
                    tf.constant(codes[start : start + batch_size]), batch_slice_heights, batch_top
                )
            )
        )
    return np.concatenate(outputs, axis=0)


def categorical(logits):
    """``tfp.distributions.Categorical`` over the last axis of ``logits`` (imported lazily)."""
    import tensorflow_probability as tfp

    return tfp.distributions.Categorical(logits=logits)


def nll_map_bits(
    model: GatedPixelCNN,
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike | None = None,
    batch_size: int = 64,
    top_codes: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Per-position negative log-likelihood in bits, ``[N, h, w]``.

    ``-log2 p(c[i, j] | c[<i, :], c[i, <j])`` from ``tfp.distributions.Categorical``.
    High values mark where the prior is surprised.
    """
    codes = check_codes(codes, model.num_embeddings)
    slice_heights = check_slice_heights(slice_heights, len(codes), model.conditional)
    top_codes = check_top_codes(model, top_codes, codes.shape)
    maps = []
    for start in range(0, len(codes), batch_size):
        batch = codes[start : start + batch_size]
        logits = prior_logits(
            model,
            batch,
            None if slice_heights is None else slice_heights[start : start + batch_size],
            batch_size,
            None if top_codes is None else top_codes[start : start + batch_size],
        )
        log_probs = categorical(logits).log_prob(batch)
        maps.append(-np.asarray(log_probs) / _LOG2)
    return np.concatenate(maps, axis=0).astype(np.float32)


def nll_bits_per_slice(
    model: GatedPixelCNN,
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike | None = None,
    batch_size: int = 64,
    top_codes: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Mean negative log-likelihood of each grid, bits per code, ``[N]``."""
    return nll_map_bits(model, codes, slice_heights, batch_size, top_codes).mean(axis=(1, 2))


def nll_bits_per_code(
    model: GatedPixelCNN,
    codes: npt.ArrayLike,
    slice_heights: npt.ArrayLike | None = None,
    batch_size: int = 64,
    top_codes: npt.ArrayLike | None = None,
) -> float:
    """Mean negative log-likelihood over all positions of all grids, bits per code."""
    return float(nll_map_bits(model, codes, slice_heights, batch_size, top_codes).mean())
