"""A blind-spot model of code grids: what the surroundings say a code should be.

The PixelCNN prior of notebook 04 reads a grid in raster order, so its probability of a
code is conditioned on the codes *before* it only. Inside a lesion that is a weakness: once
the first lesion codes are seen, the causal context explains the rest of the lesion away,
and the lesion's first codes, seen from a healthy past, are often common codes (a bright
blob in white matter is coded much like a healthy bright patch). How well the prior's
surprise tells lesion codes from the other brain codes, and how well this model's does, is
measured by ``benchmarks/anomaly.py`` (``benchmarks/results/anomaly_demo.json``:
``diagnostics.code_auroc.nll`` and ``.nll_box_mean`` for the prior,
``.blind_spot_hole_3`` for this model; the README quotes them).

A blind-spot model (the idea of blind-spot denoising networks, Laine et al. 2019,
"High-quality self-supervised deep image denoising") asks instead: given the codes *all
around* position ``(i, j)`` but **not** those in the square hole
``|i' - i| <= hole, |j' - j| <= hole``, what should be at ``(i, j)``? A small lesion falls
inside the hole and cannot explain itself; the healthy anatomy around it predicts healthy
codes, so the lesion's codes are surprising::

    p(c[i, j] | c[i', j'] : max(|i' - i|, |j' - j|) > hole, (i, j), slice height)

Architecture (``make_blind_spot_model``), for ``B`` grids of ``h x w`` codes from ``K``::

    e   = Embedding(K, E)(codes)                               [B, h, w, E]
    r_d = HoleConv2D(dilation d)(e), d in dilations (1, 2, 4)  [B, h, w, F_d]
    x   = ReLU(concat(r_1, r_2, r_4, i / (h - 1), j / (w - 1), slice height))
    logits = Conv1x1_K(ReLU(Conv1x1_H(ReLU(Conv1x1_H(x)))))    [B, h, w, K]

with ``E = embedding_dim``, ``F_1 = filters``, ``F_d = filters // 2`` for ``d > 1`` and
``H = hidden``.

Every spatial layer is a :class:`HoleConv2D`, a convolution whose kernel taps inside the
hole are held at zero, and everything after it is per position (1 x 1), so no layer can
see into the hole. The ``d = 1`` ring has taps ``hole + 1`` and ``hole + 2`` codes away;
a ring of dilation ``d > 1`` has a ``7 x 7`` kernel whose taps ``d a`` codes away are kept
where ``|a| > hole // d`` (so ``d |a| > hole``), reaching ``3 d`` codes. The coordinates
and the slice height let it learn *where* in the head a code sits (brains are centred in
their frames).

Every function that runs it takes the slices' heights, float32 ``[N]`` in ``[0, 1]``
(``code_grids.load_codes(run_dir)[split].slice_heights``; 0.5, the middle of the head, for
slices of unknown height), and raises an error that says so when they are missing
(:func:`oasis_helpers.code_location.check_slice_heights`, as the conditional prior does).
Its surprise ``-log2 p`` in bits is :func:`surprise_bits`; notebook 05 uses it to choose
*where* the prior-guided restoration may resample (:func:`oasis_helpers.anomaly.anomaly_maps`).
Training is a few epochs of cross-entropy on the healthy training grids
(:func:`train_blind_spot_model`): minutes on two CPU cores.

Configuration and cache. :data:`DEFAULT_BLIND_SPOT` holds every setting of the model and
its training (hole, embedding_dim, filters, hidden, learning_rate, batch_size, epochs,
dilations); :func:`make_blind_spot_model`, :func:`train_or_load`, notebook 05 and
``benchmarks/anomaly.py`` read their defaults from it, and :func:`configuration` fills in
and checks a partial one. :func:`train_or_load` keeps each configuration in a folder of
its own, ``training.config_run_dir(base_dir, ...)`` (as notebooks 03 and 04 keep their
runs), keyed by the whole configuration, the codebook size, the grid, the seed and a
fingerprint of the training codes and heights; the configuration is stored with the
model, so changing any setting trains a new model and changing it back loads the old
one, and a folder holding another configuration raises
:class:`oasis_helpers.training.ConfigMismatchError` instead of loading::

    base_dir/<8 hex digits>/
        config.json        the configuration (training.config_run_dir)
        blind_spot.keras   the trained model (MODEL_FILE)
        blind_spot.json    the configuration again and the per-epoch losses (RECORD_FILE)

Modules, one idea each:

* :mod:`~oasis_helpers.blind_spot.configuration`: the settings, :data:`DEFAULT_BLIND_SPOT`
  and :func:`configuration`;
* :mod:`~oasis_helpers.blind_spot.layers`: :class:`HoleConv2D` (with
  :func:`dilated_same_conv`) and :class:`GridContext`;
* :mod:`~oasis_helpers.blind_spot.model`: :func:`make_blind_spot_model`,
  :func:`train_blind_spot_model`, :func:`predict_logits`, :func:`surprise_bits`,
  :func:`load_blind_spot_model`;
* :mod:`~oasis_helpers.blind_spot.cache`: one folder per configuration:
  :func:`run_configuration`, :func:`load_trained`, :func:`train_or_load`.
"""

from oasis_helpers.blind_spot.cache import (
    MODEL_DIR,
    MODEL_FILE,
    RECORD_FILE,
    load_trained,
    run_configuration,
    train_or_load,
)
from oasis_helpers.blind_spot.configuration import (
    BLIND_SPOT_DILATIONS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_BLIND_SPOT,
    DEFAULT_EPOCHS,
    DEFAULT_HOLE,
    MODEL_SETTINGS,
    configuration,
)
from oasis_helpers.blind_spot.layers import GridContext, HoleConv2D, dilated_same_conv
from oasis_helpers.blind_spot.model import (
    load_blind_spot_model,
    make_blind_spot_model,
    predict_logits,
    surprise_bits,
    train_blind_spot_model,
)

__all__ = [
    "BLIND_SPOT_DILATIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLIND_SPOT",
    "DEFAULT_EPOCHS",
    "DEFAULT_HOLE",
    "GridContext",
    "MODEL_DIR",
    "MODEL_FILE",
    "MODEL_SETTINGS",
    "RECORD_FILE",
    "HoleConv2D",
    "configuration",
    "dilated_same_conv",
    "load_blind_spot_model",
    "load_trained",
    "make_blind_spot_model",
    "predict_logits",
    "run_configuration",
    "surprise_bits",
    "train_blind_spot_model",
    "train_or_load",
]
