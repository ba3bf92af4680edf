"""Tests of oasis_helpers.demo.config: the smoke configuration's size and the checks of values."""

from __future__ import annotations

import oasis_fixtures as fx
import pytest

from oasis_helpers import data, demo


def test_the_smoke_cohort_is_as_small_as_every_smoke_source():
    default, smoke = demo.demo_config(), demo.demo_config(smoke=True)
    assert smoke.subjects == data.SMOKE_SUBJECTS
    assert smoke.slices_per_subject == data.SMOKE_SLICES_PER_SUBJECT
    assert smoke.subjects["train"] < default.subjects["train"]
    assert smoke.slices_per_subject < default.slices_per_subject
    assert default.key() != smoke.key()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subjects": {"training": 2}}, "unknown split"),
        ({"slices_per_subject": 0}, "slices_per_subject"),
        ({"slice_range": (0.9, 0.2)}, "slice_range"),
        ({"brain_fill": 0.01}, "brain_fill"),
    ],
)
def test_config_rejects_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        demo.DemoConfig(**{**fx.TINY_DEMO, **overrides})
