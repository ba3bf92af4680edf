"""Helpers for the OASIS VQ-VAE notebook series.

One module per idea: ``data`` (loading every supported layout, tf.data
pipelines), ``demo`` (the embedded MNI152-based demo cohort), ``quantizer``
(vector-quantizer layers), ``models`` (encoder, decoder, VQ-VAE), ``metrics``
(SSIM, PSNR, perplexity), ``plots`` and ``runs`` (seeding, run directories,
metrics.json, distribution strategy).

Modules are imported lazily by the notebooks (``from oasis_helpers import data``)
so that importing the package itself does not pull in TensorFlow.
"""

__version__ = "0.1.0"
