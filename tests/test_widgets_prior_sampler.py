"""widgets.prior_sampler (notebook 04's "Try it"): it samples at the temperature and height the
reader picks, with the notebook's own sampler call."""

from __future__ import annotations

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import prior, widgets


class _RecordingVQVAE(fx.BlockVQVAE):
    """The block-mean stand-in VQ-VAE, remembering every code grid it decodes."""

    def __init__(self):
        self.decoded = []

    def decode(self, codes):
        self.decoded.append(np.asarray(codes))
        return super().decode(codes)


@pytest.mark.parametrize("conditional", [False, True])
def test_prior_sampler_draws_at_the_chosen_temperature_and_height(conditional):
    model, vqvae = fx.peaked_prior(conditional=conditional), _RecordingVQVAE()
    box = widgets.prior_sampler(model, vqvae, 4, temperature=1.3, top_k=3, seed=7)
    (temperature_slider, height_slider, button), picture = box.children[0].children, box.children[1]
    assert height_slider.disabled is not conditional
    height = 0.5 if conditional else None
    first = prior.sample_codes(model, 1, 4, 4, height, temperature=1.3, top_k=3, seed=108)
    np.testing.assert_array_equal(vqvae.decoded[-1], first)  # drawn when built
    assert bytes(picture.value).startswith(b"\x89PNG")

    temperature_slider.value, height_slider.value = 0.5, 0.9
    button.click()
    height = 0.9 if conditional else None
    second = prior.sample_codes(model, 1, 4, 4, height, temperature=0.5, top_k=3, seed=109)
    np.testing.assert_array_equal(vqvae.decoded[-1], second)
    assert len(vqvae.decoded) == 2
