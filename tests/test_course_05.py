"""Notebook 05 as a course (issue 17): numbered sections that end with a conclusion,
exercises and references; solutions hidden until opened, and every code solution runs; the
code each section shows is the package's own (``plots.show_source``, whose markers must
still be found) or a teaching version that gives the package's result.

The teaching versions (``hole_mask``, ``heal_codes``, ``best_dice_by_hand``) and the
solutions are read from the notebook itself, so a change on either side fails here instead
of drifting silently. The solutions run on tiny stand-ins of the notebook's models (a
block-mean VQ-VAE, a tiny prior and an untrained blind-spot model, tests/oasis_fixtures.py):
seconds, no notebook executed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import oasis_fixtures as fx
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_anomaly_detection.ipynb"
EXERCISE = re.compile(r"^\*\*Exercise (\d+) \(", re.MULTILINE)
ROADMAP = "![roadmap of the series](../docs/roadmap.png)"
PIPELINE = "(../docs/restoration_pipeline.png)"


def _cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


# ---------------------------------------------------------------------------------------------
# the shape of the course
# ---------------------------------------------------------------------------------------------
def test_sections_are_numbered_and_end_with_conclusion_exercises_and_references():
    cells = _cells()
    sections = fx.notebook_sections(cells)
    numbers = [number for _, number, _ in sections]
    assert numbers == list(range(1, len(numbers) + 1)), f"sections numbered {numbers}"
    unnumbered = [
        line
        for cell in cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ") and not fx.SECTION.match(line)
    ]
    assert not unnumbered, f"unnumbered sections {unnumbered}"
    assert [title for _, _, title in sections[-3:]] == ["Conclusion", "Exercises", "References"]
    assert ROADMAP in cells[0].source, "the opening cell shows no roadmap"
    assert any(PIPELINE in c.source for c in cells if c.cell_type == "markdown")


def test_the_corrected_statements_stay_corrected():
    """Issue 17: synthetic lesions give an optimistic estimate, not an upper bound; OASIS-1
    is not a set of healthy brains; the conclusion does not claim that restoration works."""
    text = "\n".join(cell.source for cell in _cells() if cell.cell_type == "markdown")
    assert "upper bound" not in text
    assert "trained on healthy brains" not in text
    assert "Alzheimer" in _cells()[0].source and "optimistic" in _cells()[0].source
    conclusion = "\n".join(cell.source for cell in fx.section_cells(_cells(), "Conclusion"))
    assert "Restoration works" not in conclusion
    references = fx.section_cells(_cells(), "References")[0].source
    for author in ["van den Oord", "Laine", "Baur", "Pinaya", "Marimont", "Marcus", "Dice, L"]:
        assert author in references, author


def test_every_exercise_has_a_solution_hidden_until_opened():
    """3-5 numbered exercises, each followed by a ``<details>`` solution or a solution code
    cell (tagged ``solution``, source hidden); every solution cell is an exercise's."""
    fx.check_exercises(_cells(), EXERCISE)


def test_the_code_each_section_shows_is_found_in_the_package():
    """Each ``plots.show_source`` names an object of the package and markers in its source,
    and shows a short part of it."""
    from oasis_helpers import anomaly, blind_spot, plots, prior

    namespace = {"anomaly": anomaly, "blind_spot": blind_spot, "plots": plots, "prior": prior}
    calls = [
        ast.unparse(node)
        for cell in _cells()
        if cell.cell_type == "code"
        for node in ast.walk(ast.parse(cell.source))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "show_source"
    ]
    assert len(calls) >= 6, calls
    shown = set()
    for call in calls:
        text = eval(call.replace("show_source(", "source_text(", 1), namespace)  # noqa: S307
        assert 0 < len(text.splitlines()) <= 40, f"{call} shows {len(text.splitlines())} lines"
        shown.add(call.split("(")[1].split(",")[0].rstrip(")"))
    for name in ["blind_spot.HoleConv2D.call", "anomaly.best_dice", "anomaly.restore_with_sampler"]:
        assert name in shown, name


# ---------------------------------------------------------------------------------------------
# the teaching versions give the package's results
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("reach", "hole"), [(3, 1), (5, 3), (3, 0), (4, 2), (7, 5)])
def test_the_hole_mask_by_hand_is_the_layers_mask(reach, hole):
    from oasis_helpers import blind_spot

    hole_mask = fx.notebook_function("05_anomaly_detection", "hole_mask", {"np": np})
    layer = blind_spot.HoleConv2D(4, reach, hole)
    np.testing.assert_array_equal(hole_mask(reach, hole), layer._mask[:, :, 0, 0])
    assert hole_mask(reach, hole).sum() == (2 * reach + 1) ** 2 - (2 * hole + 1) ** 2


def _markov_conditional(num_codes: int, seed: int):
    """A causal toy prior: the code at (i, j) depends on the healed code before it."""
    transitions = np.random.default_rng(seed).dirichlet(np.full(num_codes, 0.3), num_codes)

    def conditional(codes, row, col):
        flat = codes.reshape(len(codes), -1)
        before = row * codes.shape[2] + col - 1
        return (
            transitions[flat[:, before]]
            if before >= 0
            else np.full((len(codes), num_codes), 1.0 / num_codes)
        )

    return conditional


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_heal_codes_is_the_packages_reference_walk(temperature):
    """Notebook 05, section 8: ``heal_codes`` heals as ``anomaly.restore_codes`` (the same
    flags, the same truncated replacement draws from the same seed), inside a region."""
    from oasis_helpers import anomaly

    heal_codes = fx.notebook_function("05_anomaly_detection", "heal_codes", {"np": np})
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 6, (3, 7, 9)).astype(np.int32)
    region = rng.random(codes.shape) < 0.6
    conditional = _markov_conditional(6, seed=4)
    for threshold in (0.05, 0.2):
        mine = heal_codes(codes, conditional, threshold, 11, region, temperature)
        package = anomaly.restore_codes(
            codes, conditional, threshold, 11, temperature=temperature, region=region
        )
        np.testing.assert_array_equal(mine, package.codes)
        assert package.changed.any() and not package.changed[~region].any()


def test_heal_codes_with_a_prior_is_restore_with_prior_on_full_passes():
    """What the notebook's own check does, on a tiny peaked prior: ``heal_codes`` through
    ``conditional_from_full_pass`` equals ``restore_with_prior(..., fast=False)``."""
    from scipy.special import softmax

    from oasis_helpers import anomaly, prior

    heal_codes = fx.notebook_function("05_anomaly_detection", "heal_codes", {"np": np})
    model = fx.peaked_prior(conditional=True)
    codes = fx.random_codes(2, 6, 6, seed=5)
    region = np.ones(codes.shape, bool)
    threshold = float(np.quantile(2.0 ** -prior.nll_map_bits(model, codes, 0.5), 0.4))

    def full_pass(grids):
        return softmax(prior.prior_logits(model, grids, [0.5, 0.5]).astype(np.float64), axis=-1)

    conditional = anomaly.conditional_from_full_pass(full_pass)
    mine = heal_codes(codes, conditional, threshold, 7, region)
    reference = anomaly.restore_with_prior(model, codes, threshold, 7, [0.5, 0.5], fast=False)
    np.testing.assert_array_equal(mine, reference.codes)
    assert reference.changed.any()


def test_best_dice_by_hand_is_the_packages():
    """Notebook 05, section 13: ``best_dice_by_hand`` gives ``anomaly.best_dice``, with
    tied scores and inside a region, and its threshold reaches that Dice."""
    from oasis_helpers import anomaly

    best_dice_by_hand = fx.notebook_function(
        "05_anomaly_detection", "best_dice_by_hand", {"np": np}
    )
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 16, 16), bool)
    masks[0, 4:8, 4:8] = masks[2, 10:13, 2:6] = True
    for scores in [
        rng.random(masks.shape) + masks * 0.5,
        np.round(rng.random(masks.shape) + masks * 0.3, 1),  # many ties
    ]:
        region = rng.random(masks.shape) < 0.8
        region |= masks
        mine, threshold = best_dice_by_hand(scores[region], masks[region])
        package, _ = anomaly.best_dice(scores, masks, region)
        np.testing.assert_allclose(mine, package, rtol=1e-9)
        reached = anomaly.dice_at_threshold(scores, masks, threshold, region)
        np.testing.assert_allclose(reached, mine, rtol=1e-9)


def test_rarity_by_hand_is_the_packages_rarity():
    """Notebook 05, section 10: ``rarity_by_hand`` (the empirical CDF of the healthy
    intensities) gives the package's ``rarity`` component (2,001 interpolated quantiles)."""
    from scipy import ndimage

    from oasis_helpers import anomaly

    rarity_by_hand = fx.notebook_function("05_anomaly_detection", "rarity_by_hand", {"np": np})
    healthy = fx.disc_slices(4, size=64, radius=26, seed=1)
    region = anomaly.brain_region(healthy)
    reference = anomaly.fit_score_reference(healthy, healthy[None], region)
    lesioned, _ = anomaly.synthesize_lesions(healthy, seed=2)
    package = anomaly.score_components(lesioned, healthy[None], reference, ("rarity",))["rarity"]
    sigmas = (0, reference.smoothing, reference.smoothing)
    smooth = ndimage.gaussian_filter(healthy[..., 0], sigmas, mode="nearest")
    values = ndimage.gaussian_filter(lesioned[..., 0], sigmas, mode="nearest")
    mine = rarity_by_hand(values, smooth[region])
    inside = anomaly.brain_region(lesioned) & (mine < 2.0)  # away from the two floors
    assert inside.sum() > 1000 and np.ptp(mine[inside]) > 1.0
    np.testing.assert_allclose(mine[inside], package[inside], atol=0.05)


# ---------------------------------------------------------------------------------------------
# every code solution runs
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def notebook_state():
    """The names the solutions use, as the notebook defines them, from tiny stand-ins."""
    from scipy import ndimage

    from oasis_helpers import anomaly, blind_spot, prior

    vqvae, model = fx.BlockVQVAE(), fx.peaked_prior(conditional=True)
    validation_healthy = fx.disc_slices(4, size=64, radius=26, seed=1)
    validation_images, validation_masks = anomaly.synthesize_lesions(validation_healthy, seed=2)
    test_images, test_masks = anomaly.synthesize_lesions(
        fx.disc_slices(6, size=64, radius=26, seed=3), seed=4, lesion_fraction=0.75
    )
    validation_heights, test_heights = np.full(4, 0.5, np.float32), np.full(6, 0.5, np.float32)
    healthy_codes = vqvae.encode(validation_healthy)
    healthy_brain = anomaly.brain_codes(validation_healthy, healthy_codes.shape[1:])
    healthy_probabilities = 2.0 ** -prior.nll_map_bits(model, healthy_codes, validation_heights)
    restoration_threshold = anomaly.choose_restoration_threshold(
        healthy_probabilities[healthy_brain], 0.5
    )
    blind_spot_config = blind_spot.configuration(
        {"hole": 1, "embedding_dim": 4, "filters": 8, "hidden": 8, "epochs": 1}
    )
    settings = {name: blind_spot_config[name] for name in blind_spot.MODEL_SETTINGS}
    flag_model = blind_spot.make_blind_spot_model(fx.PRIOR_CODES, 16, **settings)
    healthy_flags, _ = anomaly.flag_probabilities(flag_model, healthy_codes, validation_heights)
    flag_quantile = 0.05
    flag_threshold = anomaly.choose_restoration_threshold(
        healthy_flags[healthy_brain], flag_quantile
    )
    test_maps = anomaly.anomaly_maps(
        vqvae,
        model,
        test_images,
        restoration_threshold,
        test_heights,
        num_restorations=1,
        seed=1,
        median_size=3,
        flag_model=flag_model,
        flag_threshold=flag_threshold,
    )
    test_brain = anomaly.brain_codes(test_images, test_maps.codes.shape[1:])
    lesion_codes = anomaly.lesion_codes(test_masks, test_maps.codes.shape[1:]) & test_brain
    healthy_region = anomaly.brain_region(validation_healthy)
    score_reference = anomaly.fit_score_reference(
        validation_healthy, vqvae.reconstruct(validation_healthy), healthy_region
    )
    return dict(
        anomaly=anomaly,
        blind_spot=blind_spot,
        prior=prior,
        np=np,
        ndimage=ndimage,
        vqvae=vqvae,
        model=model,
        seed=42,
        temperature=1.0,
        flag_dilation=1,
        median_size=3,
        num_restorations=1,
        validation_healthy=validation_healthy,
        validation_images=validation_images,
        validation_masks=validation_masks,
        validation_heights=validation_heights,
        test_images=test_images,
        test_masks=test_masks,
        test_heights=test_heights,
        healthy_codes=healthy_codes,
        healthy_brain=healthy_brain,
        restoration_threshold=restoration_threshold,
        blind_spot_config=blind_spot_config,
        flag_model=flag_model,
        flag_quantile=flag_quantile,
        flag_threshold=flag_threshold,
        test_maps=test_maps,
        test_brain=test_brain,
        lesion_codes=lesion_codes,
        restoration_score=anomaly.DEFAULT_RESTORATION_SCORE,
        score_reference=score_reference,
    )


def _solutions() -> list:
    return [cell for cell in _cells() if cell.cell_type == "code" and fx.is_solution(cell)]


@pytest.mark.parametrize("number", range(1, len(_solutions()) + 1))
def test_every_code_solution_runs(number, notebook_state, capsys):
    """Each solution cell runs on the notebook's names (tiny stand-ins) and prints its
    answer; exercise 1's restoration is confined to the prior's flags."""
    cell = _solutions()[number - 1]
    namespace = dict(notebook_state)
    exec(compile(cell.source, f"05:solution {number}", "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    assert printed.strip(), f"solution {number} printed nothing"
    if "prior_region" in namespace:
        region, healing = namespace["prior_region"], namespace["healing"]
        assert not healing.flagged[:, ~region].any()
        assert "prior flags" in printed and "blind-spot flags" in printed
