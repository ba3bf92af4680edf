"""The classifier two-sample test: chance for one distribution, near 1 for two."""

import numpy as np
import oasis_fixtures as fx

from oasis_helpers import judge


def test_held_out_halves_keep_each_subject_on_one_side():
    groups = np.repeat(["a", "b", "c", "d"], 5)
    fit, held = judge.held_out_halves(20, groups, np.random.default_rng(0))
    assert not set(groups[fit]) & set(groups[held])
    assert len(held) == 10 and len(fit) == 10
    fit, held = judge.held_out_halves(9, None, np.random.default_rng(0))
    assert sorted(np.concatenate([fit, held])) == list(range(9)) and len(held) == 4
    fit, held = judge.held_out_halves(6, ["a"] * 6, np.random.default_rng(0))
    assert len(fit) == 3 and len(held) == 3  # one subject: nothing to hold out by


def test_c2st_is_near_chance_for_one_distribution_and_near_one_for_two():
    a, b = fx.anatomy_cohort(4, seed=10), fx.anatomy_cohort(4, seed=11)
    same = judge.classifier_two_sample_test(
        a.images, b.images, a.subject_ids, b.subject_ids, seeds=(0, 1), steps=60
    )
    noise = np.random.default_rng(0).uniform(0, 1, a.images.shape).astype(np.float32)
    different = judge.classifier_two_sample_test(noise, b.images, None, b.subject_ids, (0,), 60)
    assert 0.3 <= same["accuracy"] <= 0.7, same
    assert different["accuracy"] > 0.9, different
    assert len(same["per_seed"]) == 2 and same["held_out"] > 0 and same["fit"] > 0
