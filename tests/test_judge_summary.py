"""judge_summary: notebook 04's entries, every set at one size."""

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import judge


def test_judge_summary_records_every_entry_at_one_size(trained_judge, judge_cohort):
    train, _, test = judge_cohort
    real_like = fx.anatomy_cohort(3, seed=20).images
    noise = np.random.default_rng(0).uniform(0, 1, (50, fx.JUDGE_SIZE, fx.JUDGE_SIZE, 1))
    summary = judge.judge_summary(
        trained_judge.model,
        trained_judge.report,
        {"prior": real_like, "uniform": noise.astype(np.float32)},
        train,
        test,
        asked_heights={"prior": judge.split_targets(fx.anatomy_cohort(3, seed=20))[0]},
        subsets=20,
        c2st_sets=("uniform",),
        c2st_seeds=(0,),
        c2st_steps=40,
    )
    assert summary["kid_set_size"] == 36  # the test split's size, the smallest set
    for key in (
        "kid_prior",
        "kid_uniform",
        "kid_train_test",
        "c2st_accuracy_uniform",
        "c2st_accuracy_train_test",
        "anatomy_height_error_prior",
        "anatomy_tissue_error_test",
    ):
        assert np.isfinite(summary[key]), key
    assert summary["kid_uniform"] > 5 * max(abs(summary["kid_prior"]), summary["kid_prior_std"])
    assert summary["c2st_accuracy_uniform"] > 0.9
    assert summary["judge"] == trained_judge.report


def test_equal_size_and_bad_arguments(trained_judge, judge_cohort):
    train, _, test = judge_cohort
    assert judge.equal_size({"a": np.zeros((50, 1))}, train, test, set_size=20) == 20
    with pytest.raises(ValueError, match="at least 4"):
        judge.equal_size({"a": np.zeros((3, 1))}, train, test)
    with pytest.raises(ValueError, match="c2st_sets"):
        judge.judge_summary(
            trained_judge.model, {}, {"prior": test.images}, train, test, c2st_sets=("context",)
        )
