"""Tests of oasis_helpers.demo.template: the files read are the nilearn loaders' templates."""

from __future__ import annotations

import numpy as np

from oasis_helpers import demo


def test_template_files_match_the_nilearn_loaders():
    from nilearn.datasets import load_mni152_template, load_mni152_wm_template

    t1, _, white = demo.read_mni152_files()
    np.testing.assert_allclose(t1, np.asarray(load_mni152_template().dataobj), atol=1e-6)
    np.testing.assert_allclose(white, np.asarray(load_mni152_wm_template().dataobj), atol=1e-6)
