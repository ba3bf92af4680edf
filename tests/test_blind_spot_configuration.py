"""Tests of oasis_helpers.blind_spot.configuration: defaults filled in, bad settings refused."""

from __future__ import annotations

import pytest

from oasis_helpers import blind_spot


def test_configuration_fills_in_the_defaults_and_refuses_bad_settings():
    assert blind_spot.configuration() == blind_spot.DEFAULT_BLIND_SPOT
    assert blind_spot.configuration({"filters": 32})["filters"] == 32
    assert blind_spot.configuration({"dilations": [1, 2]})["dilations"] == (1, 2)
    bad = {
        "filtres": 32,
        "hole": 6,
        "epochs": 0,
        "batch_size": 2.5,
        "filters": True,
        "learning_rate": 0,
        "dilations": (1, 1),
    }
    for name, value in bad.items():
        with pytest.raises(ValueError, match=name if name != "filtres" else "unknown"):
            blind_spot.configuration({name: value})
    with pytest.raises(ValueError, match="dilations"):
        blind_spot.make_blind_spot_model(4, 8, dilations=())
