"""widgets.threshold_explorer (notebook 05's "Try it"): it colours what a threshold of the picked
method's map finds on the picked slice and gives its Dice."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from oasis_helpers import anomaly, widgets


def test_threshold_explorer_colours_what_the_threshold_finds_and_gives_its_dice(monkeypatch):
    drawn = []  # (picture, title) of every draw

    def record(picture, title):
        drawn.append((picture, title))
        return b"\x89PNG"

    monkeypatch.setattr(widgets, "render_png", record)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    masks = np.zeros((3, 8, 8), bool)
    masks[1, 2:5, 2:5] = True
    region = np.ones((3, 8, 8), bool)
    region[:, 0] = False
    maps = SimpleNamespace(
        maps={method: rng.uniform(0, 1, (3, 8, 8)) for method in anomaly.METHODS}, region=region
    )
    values = maps.maps["reconstruction"] = np.full((3, 8, 8), 0.2)
    values[1, 2:4, 2:5] = 0.9  # the lesion's upper two rows
    values[1, 6, 6] = 0.95  # a false alarm, and the largest value
    box = widgets.threshold_explorer(images, masks, maps, start_index=1)
    method_picker, threshold_slider, slice_picker = box.children[0].children
    colour, title = drawn[-1]
    # threshold 0.5 of the largest value: 6 of the 9 lesion pixels found, one false alarm
    assert (
        title
        == f"reconstruction: Dice {2 * 6 / (7 + 9):.3f} on this slice, {2 * 6 / 16:.3f} on all"
    )
    assert np.allclose(colour[2:4, 2:5], widgets.FOUND_COLOUR)
    assert np.allclose(colour[4, 2:5], widgets.MISSED_COLOUR)
    assert np.allclose(colour[6, 6], widgets.FALSE_ALARM_COLOUR)
    assert np.allclose(colour[7, 7], images[1, 7, 7, 0])

    threshold_slider.value = 0.0  # everything in the region is predicted a lesion
    colour, title = drawn[-1]
    assert title.endswith(f"{anomaly.dice_at_threshold(values, masks, 0.0, region):.3f} on all")
    assert np.allclose(colour[masks[1]], widgets.FOUND_COLOUR)
    assert np.allclose(colour[region[1] & ~masks[1]], widgets.FALSE_ALARM_COLOUR)
    gray = images[1, ..., 0][~region[1]]  # outside the region: the slice itself
    np.testing.assert_allclose(colour[~region[1]], np.repeat(gray[:, None], 3, axis=1))

    method_picker.value, slice_picker.value = "restoration", 0
    assert drawn[-1][1].startswith("restoration: Dice 0.000 on this slice")  # no lesion there
