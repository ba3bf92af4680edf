"""Tests of oasis_helpers.demo.subject: tissue masks agree with intensities, and subjects are
deterministic from the seed.

Small cohorts (64x64, a few subjects and slices) keep these fast; each test uses
its own cache folder through ``OASIS_VQVAE_CACHE`` (conftest's ``private_demo_cache``).
"""

from __future__ import annotations

import numpy as np
import pytest
from oasis_fixtures import tiny_demo_config

from oasis_helpers import demo

pytestmark = pytest.mark.usefixtures("private_demo_cache")


def test_masks_agree_with_intensities():
    cohort = demo.build_demo_cohort(tiny_demo_config(), use_cache=False)
    images, masks = cohort.images["train"].astype(float), cohort.masks["train"]
    white, grey, csf = (images[masks == label].mean() for label in (3, 2, 1))
    assert white > grey > csf  # T1 contrast: white matter brightest, CSF darkest
    brain = np.count_nonzero(masks)
    for label in (1, 2, 3):  # every tissue holds a plausible share of the brain
        assert np.count_nonzero(masks == label) > 0.03 * brain
    assert np.mean(images[masks == 0] == 0) > 0.98


def test_cohort_is_deterministic_from_seed():
    first = demo.build_demo_cohort(tiny_demo_config(), use_cache=False)
    again = demo.build_demo_cohort(tiny_demo_config(), use_cache=False)
    other = demo.build_demo_cohort(tiny_demo_config(seed=6), use_cache=False)
    for split in demo.SPLITS:
        np.testing.assert_array_equal(first.images[split], again.images[split])
        np.testing.assert_array_equal(first.masks[split], again.masks[split])
    assert not np.array_equal(first.images["train"], other.images["train"])
