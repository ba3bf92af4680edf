"""plots.anomaly: notebook 05's lesions, trade-off, panels and ROC/PR curves, from small inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from oasis_helpers import anomaly, plots

pytestmark = pytest.mark.usefixtures("close_figures")


def _slices(count: int, size: int = 16, seed: int = 0):
    """``count`` random slices and masks with a lesion in slices 1 and 3 only."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (count, size, size, 1)).astype(np.float32)
    masks = np.zeros((count, size, size), bool)
    masks[1, 4:8, 4:8] = masks[3, 2:5, 9:12] = True
    return images, masks


def test_lesions_show_the_slices_with_a_lesion_above_their_tinted_masks():
    images, masks = _slices(5)
    figure = plots.show_lesions(images, masks)
    shown = [axis for axis in figure.axes if axis.images]
    assert [axis.get_title() for axis in shown] == ["lesioned slice"] * 2 + ["its mask"] * 2
    pictures = [axis.images[0].get_array() for axis in shown]
    np.testing.assert_allclose(pictures[0][..., 0], images[1, ..., 0], atol=1e-6)  # untinted
    tinted = np.asarray(pictures[3])
    assert not np.allclose(tinted[masks[3]], np.asarray(pictures[1])[masks[3]])  # the lesion
    np.testing.assert_allclose(tinted[~masks[3]], np.asarray(pictures[1])[~masks[3]])
    assert len([a for a in plots.show_lesions(images, masks, count=1).axes if a.images]) == 2
    with pytest.raises(ValueError, match="no slice has a lesion"):
        plots.show_lesions(images, np.zeros_like(masks))


def test_tradeoff_draws_one_line_per_flag_quantile_against_the_residual():
    rows = [
        {"flag_quantile": quantile, "restorations": count, "seconds_per_slice": count + quantile}
        | {"auroc_pixel": 0.6 + count / 100, "dice_best": 0.2 + count / 100}
        for quantile in (0.02, 0.005)
        for count in (1, 2, 3)
    ]
    figure = plots.plot_restoration_tradeoff(rows, {"auroc_pixel": 0.55, "dice_best": 0.1})
    auroc_axis, dice_axis = figure.axes
    lines = auroc_axis.get_lines()
    assert [line.get_label() for line in lines] == [
        "flag quantile 0.02",
        "flag quantile 0.005",
        "reconstruction residual",
    ]
    np.testing.assert_allclose(lines[1].get_xdata(), [1.005, 2.005, 3.005])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.61, 0.62, 0.63])
    assert list(dice_axis.get_lines()[-1].get_ydata()) == [0.1, 0.1]
    assert [text.get_text() for text in auroc_axis.texts] == ["R=1", "R=2", "R=3"] * 2
    assert (auroc_axis.get_ylabel(), dice_axis.get_ylabel()) == ("pixel AUROC", "best Dice")


def _maps(images, masks, flag_bits=True):
    count, size = images.shape[:2]
    rng = np.random.default_rng(1)
    return SimpleNamespace(
        maps={method: rng.uniform(0, 1, (count, size, size)) for method in anomaly.METHODS},
        region=np.ones((count, size, size), bool),
        reconstructions=images * 0.5,
        nll_bits=rng.uniform(0, 8, (count, 4, 4)),
        flag_bits=rng.uniform(0, 8, (count, 4, 4)) if flag_bits else None,
        healed=np.stack([images * 0.25, images * 0.75]),
    )


def test_panels_show_each_chosen_slice_through_every_method():
    images, masks = _slices(4)
    maps = _maps(images, masks)
    figure = plots.plot_anomaly_panels(images, masks, maps, [1, 3])
    axes = np.array(figure.axes).reshape(2, 9)
    assert [axis.get_title() for axis in axes[0]] == [
        *("input", "reconstruction", "NLL (bits)", "blind-spot (bits)", "restoration"),
        *("residual map", "likelihood map", "restoration map", "true mask"),
    ]
    assert not any(axis.get_title() for axis in axes[1])
    second = [np.asarray(axis.images[0].get_array()) for axis in axes[1]]
    np.testing.assert_allclose(second[0], images[3, ..., 0])
    np.testing.assert_allclose(second[4], maps.healed[0, 3, ..., 0])  # the first healed copy
    np.testing.assert_allclose(second[7], maps.maps["restoration"][3])
    np.testing.assert_array_equal(second[8], masks[3])
    without = plots.plot_anomaly_panels(images, masks, _maps(images, masks, False), [1])
    titles = [axis.get_title() for axis in without.axes]
    assert len(titles) == 8 and "blind-spot (bits)" not in titles


def test_score_maps_show_each_map_of_each_slice_on_one_scale_per_row():
    images, masks = _slices(4)
    maps = {"difference": np.random.default_rng(0).random(masks.shape).astype(np.float32)}
    maps["rarity"] = 3 * maps["difference"][:, ::-1]
    figure = plots.plot_score_maps(images, masks, maps, [0, 2])
    axes = np.array(figure.axes).reshape(2, 4)
    assert [axis.get_title() for axis in axes[0]] == ["input", "difference", "rarity", "true mask"]
    second = [axis.images[0] for axis in axes[1]]
    np.testing.assert_allclose(second[0].get_array(), images[2, ..., 0])
    np.testing.assert_allclose(second[2].get_array(), maps["rarity"][2])
    np.testing.assert_array_equal(second[3].get_array(), masks[2])
    top = float(maps["rarity"][2].max())  # the row's largest value sets both maps' scale
    assert second[1].get_clim() == second[2].get_clim() == (0, top)


def test_roc_and_pr_curves_come_with_the_areas_the_evaluation_reports():
    images, masks = _slices(4, size=24)
    region = np.ones(masks.shape, bool)
    region[:, :2] = False
    rng = np.random.default_rng(2)
    maps = {
        "reconstruction": rng.uniform(0, 1, masks.shape),
        "likelihood": masks + rng.uniform(0, 0.8, masks.shape),  # a good detector
    }
    figure = plots.plot_roc_pr_curves(maps, masks, region)
    roc_axis, pr_axis = figure.axes
    roc_labels = [text.get_text() for text in roc_axis.get_legend().get_texts()]
    pr_labels = [text.get_text() for text in pr_axis.get_legend().get_texts()]
    for index, (method, values) in enumerate(maps.items()):
        auroc = anomaly.pixel_auroc(values, masks, region)
        auprc = anomaly.pixel_auprc(values, masks, region)
        assert roc_labels[index] == f"{method} (AUROC {auroc:.3f})"
        assert pr_labels[index] == f"{method} (AUPRC {auprc:.3f})"
    assert roc_labels[-1] == pr_labels[-1] == "chance" and len(roc_labels) == 3
    chance = pr_axis.get_lines()[-1]
    np.testing.assert_allclose(chance.get_ydata(), masks[region].mean())
    assert roc_axis.get_lines()[1].get_xdata()[-1] == 1.0
    assert (roc_axis.get_title(), pr_axis.get_title()) == ("pixel ROC", "pixel precision-recall")


def test_lesion_kinds_draw_one_bar_per_method_and_kind_at_its_score():
    methods = ("reconstruction", "likelihood", "restoration")
    rows = [
        {
            "name": f"kind {number}",
            "methods": {
                method: {key: (number + 1) / 10 + index / 100 for key in plots.LESION_KIND_SCORES}
                for index, method in enumerate(methods)
            },
        }
        for number in range(4)
    ]
    figure = plots.plot_lesion_kinds(rows)
    assert len(figure.axes) == len(plots.LESION_KIND_SCORES)
    first = figure.axes[0]
    assert [tick.get_text() for tick in first.get_yticklabels()] == [row["name"] for row in rows]
    widths = [patch.get_width() for patch in first.patches]
    expected = [(n + 1) / 10 + i / 100 for i in range(3) for n in range(4)]
    np.testing.assert_allclose(widths, expected)
    assert [t.get_text() for t in figure.axes[-1].get_legend().texts] == list(methods)
    only = plots.plot_lesion_kinds(rows, {"auroc_pixel": "AUROC"})
    assert len(only.axes) == 1 and only.axes[0].get_xlabel() == "AUROC"
