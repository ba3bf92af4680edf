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


def test_working_images_pool_as_the_classifier_would():
    from keras import layers

    from oasis_helpers.judge.two_sample import working_images

    rng = np.random.default_rng(0)
    images = rng.random((3, 258, 258, 1)).astype(np.float32)  # 4-pixel blocks, 2 cropped
    pooled = working_images(images)
    assert pooled.shape == (3, 64, 64, 1)
    expected = np.asarray(layers.AveragePooling2D(4)(images))
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    small = images[:, :64, :64]
    assert working_images(small) is small  # already at the working size
