"""Helpers for the OASIS VQ-VAE notebook series.

One module per idea (a package where an idea has parts): ``data`` (a package: layout
detection, PNG, Analyze/NIfTI volumes, the tf.data pipeline and crops, behind
``load_slices``; the user's own lesions, ``load_lesion_dir``), ``demo`` (the embedded
MNI152-based demo cohort), ``quantizer`` (vector-quantizer layers and their losses),
``patch_study`` (notebook 02's quantizer on brain patches), ``models`` (encoder, decoder,
VQ-VAE, the default configuration), ``code_grids`` (the code grids of ``codes.npz``),
``code_location`` (where a code sits: grid coordinates and slice heights, for both models of
code grids), ``training`` (a package: ``fit``, resume by configuration, training in a run
folder) and ``callbacks`` (the checkpoints, budget, schedule and guards behind it),
``distributed`` (training on several machines), ``prior`` (a package: the PixelCNN prior
over code grids, its likelihood, baselines and fast sampling), ``judge`` (a package: a model
of anatomy trained on real slices that judges generated ones: KID, a classifier two-sample
test, anatomy by height), ``blind_spot`` (a model of each code given its surroundings, which
tells restoration where to heal), ``anomaly`` (a package: lesions of the series' own and of
stated kinds, anomaly maps, restoration, evaluation, thresholds fixed on healthy slices),
``metrics`` (SSIM, PSNR, perplexity, codebook health, sample quality), ``plots`` (a package)
and ``widgets`` (the only modules that draw), ``parameters`` (checks a notebook's parameters
before any work), ``runs`` (seeding, run directories, metrics.json, strategy selection) and
``series`` (the headless runner behind ``make run``). ``data``, ``quantizer`` and
``metrics`` import no model module.

Modules are imported lazily by the notebooks (``from oasis_helpers import data``)
so that importing the package itself does not pull in TensorFlow. It does set
``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set) so that TensorFlow, when a module
imports it after this package, keeps its C++ log lines (oneDNN, CUDA probing, a
failed ``cuInit`` on a machine without a GPU) out of the notebooks; set it to
``0`` before importing to see them. (The project's Jupyter kernel goes further:
see :mod:`oasis_helpers.series`.)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
