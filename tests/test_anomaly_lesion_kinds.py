"""Lesions of stated kinds: size, intensity, edge, shape (oasis_helpers.anomaly.lesion_kinds),
drawn into the brain-like phantoms of tests/oasis_fixtures.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import anomaly

SIZE = 96


def _phantoms(count: int = 6, size: int = SIZE) -> np.ndarray:
    slices = [fx.phantom_slice(size, seed=seed)[0] for seed in range(count)]
    return (np.stack(slices)[..., None] / 255.0).astype(np.float32)


@pytest.mark.parametrize("radius", [2, 5, 10])
def test_a_hard_disc_has_the_area_of_its_radius_and_lies_in_the_brain(radius):
    images = _phantoms()
    kind = anomaly.LesionKind(radius=radius, intensity="set", value=0.95, edge="hard")
    lesioned, masks = anomaly.draw_lesion_kind(images, kind, seed=3)
    assert lesioned.shape == images.shape and lesioned.dtype == np.float32
    assert not np.any(masks & ~anomaly.brain_region(images))
    areas = masks.sum(axis=(1, 2))
    assert areas.min() > 0
    np.testing.assert_allclose(areas, np.pi * radius**2, rtol=0.35 if radius == 2 else 0.12)
    # a hard edge changes only the masked pixels, and sets them to the value
    changed = lesioned[..., 0] != images[..., 0]
    assert not np.any(changed & ~masks)
    np.testing.assert_allclose(lesioned[..., 0][masks], 0.95, atol=1e-6)


def test_set_erases_the_texture_and_add_keeps_it():
    images = _phantoms()
    set_kind = anomaly.LesionKind(radius=8, intensity="set", value=0.05, edge="hard")
    add_kind = dataclasses.replace(set_kind, intensity="add", value=0.3)
    set_images, set_masks = anomaly.draw_lesion_kind(images, set_kind, seed=1)
    add_images, add_masks = anomaly.draw_lesion_kind(images, add_kind, seed=1)
    np.testing.assert_array_equal(set_masks, add_masks)  # the same seed: the same place
    inside = set_masks
    assert np.std(set_images[..., 0][inside]) < 1e-6
    shifted = add_images[..., 0][inside] - images[..., 0][inside]
    unclipped = add_images[..., 0][inside] < 1.0
    np.testing.assert_allclose(shifted[unclipped], 0.3, atol=1e-5)


def test_a_smooth_edge_blends_outside_the_mask_and_the_mask_is_the_half_blend_contour():
    images = _phantoms()
    kind = anomaly.LesionKind(radius=10, intensity="set", value=1.0)
    lesioned, masks = anomaly.draw_lesion_kind(images, kind, seed=2)
    hard, hard_masks = anomaly.draw_lesion_kind(
        images, dataclasses.replace(kind, edge="hard"), seed=2
    )
    np.testing.assert_array_equal(masks, hard_masks)
    changed = lesioned[..., 0] != images[..., 0]
    assert np.any(changed & ~masks)  # the blend reaches beyond the outline
    # on the outline the pixel is half way between tissue and value, inside it is the value
    assert np.all(lesioned[..., 0][masks] >= images[..., 0][masks])


def test_shapes_differ_and_seeds_repeat():
    images = _phantoms(3)
    disc = anomaly.LesionKind(radius=10, intensity="add", value=0.4, edge="hard")
    masks = {
        shape: anomaly.draw_lesion_kind(images, dataclasses.replace(disc, shape=shape), 5)[1]
        for shape in anomaly.SHAPES
    }
    for shape in ("ellipse", "irregular"):
        assert not np.array_equal(masks[shape], masks["disc"]), shape
    # an ellipse is longer than wide: its mask's extent along the longer axis exceeds 2 r
    rows, cols = np.nonzero(masks["ellipse"][0])
    assert max(np.ptp(rows), np.ptp(cols)) > 2 * 10 * 1.2
    first = anomaly.draw_lesion_kind(images, disc, 9)
    again = anomaly.draw_lesion_kind(images, disc, 9)
    np.testing.assert_array_equal(first[0], again[0])


def test_the_study_varies_one_factor_at_a_time_from_the_reference():
    kinds = anomaly.study_kinds()
    assert len(set(kinds)) == len(kinds) and anomaly.REFERENCE_KIND in kinds
    fields = [field.name for field in dataclasses.fields(anomaly.LesionKind)]
    for kind in kinds:
        differing = [
            name for name in fields if getattr(kind, name) != getattr(anomaly.REFERENCE_KIND, name)
        ]
        assert len(differing) <= 2, kind  # intensity and value move together
    assert {kind.radius for kind in kinds} >= {2, 20}
    assert {kind.shape for kind in kinds} == set(anomaly.SHAPES)
    assert {kind.edge for kind in kinds} == set(anomaly.EDGES)
    assert len({kind.name for kind in kinds}) == len(kinds)


def test_mixed_lesions_give_each_lesioned_slice_one_kind():
    images = _phantoms(8)
    kinds = anomaly.study_kinds()[:4]
    lesioned, masks, names = anomaly.draw_mixed_lesions(images, kinds, seed=4, lesion_fraction=0.5)
    assert lesioned.shape == images.shape
    for index, name in enumerate(names):
        assert (name is None) == (not masks[index].any())
        if name is None:
            np.testing.assert_array_equal(lesioned[index], images[index])
    assert {name for name in names if name} <= {kind.name for kind in kinds}


@pytest.mark.parametrize(
    "options, match",
    [
        ({"radius": 0.5}, "radius"),
        ({"intensity": "glow"}, "intensity"),
        ({"value": 1.5}, "value"),
        ({"intensity": "add", "value": 0.0}, "value"),
        ({"intensity": "set", "value": -0.2}, "value"),
        ({"edge": "fuzzy"}, "edge"),
        ({"shape": "star"}, "shape"),
    ],
)
def test_a_bad_kind_is_refused_by_name(options, match):
    with pytest.raises(ValueError, match=match):
        anomaly.LesionKind(**{"radius": 8, "intensity": "set", "value": 0.9, **options})


def test_images_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        anomaly.draw_lesion_kind(_phantoms(1) * 3, anomaly.REFERENCE_KIND, seed=0)
