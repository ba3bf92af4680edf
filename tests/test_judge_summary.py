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


def test_verdict_rows_put_every_measured_set_in_order_with_the_floor_last():
    summary = {
        "kid_set_size": 64,
        "kid_subset_size": 32,
        "kid_train_test": 0.5,
        "kid_train_test_std": 0.25,
        "kid_prior": 1.5,
        "kid_prior_std": 0.5,
        "kid_uniform": 700.0,
        "kid_uniform_std": 10.0,
        "c2st_accuracy_prior": 0.71,
        "c2st_accuracy_prior_std": 0.02,
        "c2st_accuracy_train_test": 0.55,
        "c2st_accuracy_train_test_std": 0.05,
    }
    rows = judge.verdict_rows(summary)
    assert [row["set"] for row in rows] == ["prior", "uniform", "real train vs real test (floor)"]
    assert rows[0] == {"set": "prior", "kid": "1.500 ± 0.500", "c2st": "0.71 ± 0.02"}
    assert rows[1]["c2st"] == "—" and rows[1]["kid"] == "700.000 ± 10.000"
    assert rows[2]["c2st"] == "0.55 ± 0.05"
    assert set(rows[0]) == set(judge.VERDICT_COLUMNS)
