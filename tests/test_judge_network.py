"""The anatomy judge's network: its targets, outputs, features and input checks."""

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import judge


def test_tissue_fractions_count_each_label_over_the_area():
    masks = np.zeros((1, 4, 4), np.uint8)
    masks[0, 0, :2] = 1  # 2 CSF pixels
    masks[0, 1] = 2  # 4 grey matter
    masks[0, 2:, :] = 3  # 8 white matter
    np.testing.assert_allclose(judge.tissue_fractions(masks), [[2 / 16, 4 / 16, 8 / 16]])
    with pytest.raises(ValueError, match="shape"):
        judge.tissue_fractions(np.zeros((4, 4)))


def test_tissue_layout_is_mirror_symmetric_and_averages_to_the_fractions(judge_cohort):
    masks = judge_cohort[0].masks[:5]
    layout = judge.tissue_layout(masks).reshape(5, judge.LAYOUT_GRID, judge.LAYOUT_GRID, 3)
    np.testing.assert_allclose(layout, layout[:, :, ::-1])  # unchanged by a left-right flip
    np.testing.assert_allclose(layout.mean(axis=(1, 2)), judge.tissue_fractions(masks), atol=1e-6)
    flipped = judge.tissue_layout(masks[:, ::-1])  # upside down: another layout
    assert np.abs(flipped - layout.reshape(5, -1)).max() > 0.1


def test_build_judge_outputs_and_features_have_the_documented_shapes(judge_cohort):
    images = judge_cohort[0].float_images(np.arange(3))
    model = judge.build_judge(fx.JUDGE_SIZE)
    predictions = judge.judge_predictions(model, images)
    assert set(predictions) == set(judge.TARGETS)
    assert predictions["height"].shape == (3,)
    assert predictions["tissue"].shape == (3, 3)
    assert predictions["layout"].shape == (3, judge.LAYOUT_GRID**2 * 3)
    assert all(((p >= 0) & (p <= 1)).all() for p in predictions.values())
    features = judge.judge_features(model, images)
    assert features.shape == (3, judge.FEATURE_WIDTH)
    assert judge.judge_targets(judge.build_judge(fx.JUDGE_SIZE, ("height",))) == ("height",)


def test_large_slices_are_pooled_to_the_working_size():
    model = judge.build_judge(256, ("height",))
    assert model.get_layer("to_working_size").output.shape[1] == judge.WORKING_SIZE
    assert judge.judge_features(model, np.zeros((2, 256, 256, 1))).shape == (2, judge.FEATURE_WIDTH)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ValueError, match="targets"):
        judge.build_judge(32, ("colour",))
    with pytest.raises(ValueError, match="power of two"):
        judge.build_judge(48)
    with pytest.raises(ValueError, match="too small"):
        judge.build_judge(16)
    with pytest.raises(ValueError, match="shape"):
        judge.judge_features(judge.build_judge(32, ("height",)), np.zeros((2, 64, 64, 1)))
