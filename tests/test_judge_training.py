"""Training the judge: it learns anatomy from tiny data, reports it, and round-trips a file."""

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import judge


def test_the_judge_learns_height_and_tissues_better_than_the_mean(trained_judge):
    report = trained_judge.report
    assert report["targets"] == ["height", "tissue", "layout"]
    assert report["height_mae"] < 0.5 * report["height_mae_mean_predictor"]
    assert report["tissue_mae"] < 0.6 * report["tissue_mae_mean_predictor"]
    assert report["brain_fraction_mae"] < report["brain_fraction_mae_mean_predictor"]
    assert report["train_slices"] == 96 and report["validation_slices"] == 36
    assert report["steps"] == 150 and report["train_seconds"] > 0


def test_save_and_load_give_the_same_judge(trained_judge, judge_cohort, tmp_path):
    path = judge.save_judge(tmp_path, trained_judge.model, trained_judge.report)
    assert path.name == judge.JUDGE_FILE and (tmp_path / judge.JUDGE_REPORT_FILE).exists()
    loaded = judge.load_judge(tmp_path)
    images = judge_cohort[2].float_images(np.arange(6))
    np.testing.assert_allclose(
        judge.judge_features(loaded.model, images),
        judge.judge_features(trained_judge.model, images),
        rtol=1e-5,
        atol=1e-6,
    )
    assert loaded.report == trained_judge.report
    with pytest.raises(FileNotFoundError, match="04_pixelcnn_prior"):
        judge.load_judge(tmp_path / "nothing")


def test_split_targets_use_masks_only_when_every_slice_has_one():
    split = fx.anatomy_cohort(2, slices=3)
    heights, masks = judge.split_targets(split)
    np.testing.assert_allclose(heights, [0, 0.5, 1, 0, 0.5, 1])
    assert masks.shape == (6, fx.JUDGE_SIZE, fx.JUDGE_SIZE)
    split.mask_present[0] = False
    assert judge.split_targets(split)[1] is None
    assert judge.split_targets(fx.anatomy_cohort(2, slices=3, with_masks=False))[1] is None


def test_a_height_only_judge_without_masks():
    train = fx.anatomy_cohort(2, slices=4, with_masks=False)
    result = judge.train_judge_on_splits(train, train, seed=0, steps=2, batch_size=4)
    assert result.report["targets"] == ["height"] and "tissue_mae" not in result.report


def test_bad_inputs_are_refused(judge_cohort):
    train = judge_cohort[0]
    images = train.float_images(np.arange(4))
    with pytest.raises(ValueError, match="both"):
        judge.train_judge(
            images, np.zeros(4), images, np.zeros(4), 0, 1, train_masks=train.masks[:4]
        )
    with pytest.raises(ValueError, match="one height per image"):
        judge.train_judge(images, np.zeros(3), images, np.zeros(4), 0, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        judge.train_judge(images, np.full(4, 2.0), images, np.zeros(4), 0, 1)
    with pytest.raises(ValueError, match="masks"):
        judge.train_judge(
            images, np.zeros(4), images, np.zeros(4), 0, 1, train.masks[:3], train.masks[:4]
        )
