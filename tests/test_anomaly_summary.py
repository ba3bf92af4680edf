"""anomaly.summary: what notebook 05 writes to metrics.json, from stand-in measurements."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from oasis_helpers import anomaly

#: The keys of notebook 05's metrics.json (tests/test_notebooks.py checks some of them).
NOTEBOOK_05_KEYS = {
    *anomaly.METHODS,
    *("num_slices", "num_lesion_slices", "source", "restoration_quantile", "restoration_score"),
    *("restoration_threshold", "flag_quantile", "flag_threshold", "blind_spot"),
    *("num_restorations", "max_restorations", "temperature", "flag_dilation", "median_size"),
    *("dice_thresholds", "validation_slices", "tradeoff", "resampled_fraction_test", "smoke"),
}


@pytest.fixture
def sweep():
    """A sweep of two flag quantiles and two restorations each, as restoration_sweep records it."""
    rows = [
        {"flag_quantile": quantile, "restorations": count, "auroc_pixel": 0.6, "dice_best": 0.2}
        | {"resampled": 0.01, "seconds_per_slice": float(count)}
        for quantile in (0.3, 0.1)
        for count in (1, 2)
    ]
    return anomaly.RestorationSweep(
        rows=rows,
        maps={},
        residual={"auroc_pixel": 0.55, "dice_best": 0.1},
        images=np.zeros((2, 8, 8, 1), np.float32),
        restoration_threshold=0.004,
        flag_thresholds={0.3: 0.02, 0.1: 0.005},
        settings={"max_restorations": 2, "temperature": 1.0, "flag_dilation": 1}
        | {"median_size": 3, "seed": 3},
    )


def test_the_summary_reports_the_chosen_setting_and_the_blind_spot_model(sweep, tmp_path):
    results = {
        method: {"auroc_pixel": 0.5 + index / 10} for index, method in enumerate(anomaly.METHODS)
    }
    masks = np.zeros((3, 4, 4), bool)
    masks[0, 1, 1] = masks[2, 0, 0] = True
    test_maps = SimpleNamespace(restoration=SimpleNamespace(flagged=np.array([[True, False]] * 2)))
    record = {
        "config": {"hole": 1, "epochs": 2},
        "folder": str(tmp_path / "05_anomaly_detection" / "blind_spot" / "abc123"),
        "loaded": False,
        "train_seconds": 4.5,
        "history": {"loss": [3.0, 2.0], "val_loss": [3.0, 2 * np.log(2)]},
    }
    chosen = sweep.rows[3]  # flag quantile 0.1, two restorations
    summary = anomaly.anomaly_summary(
        results,
        test_maps,
        masks,
        "synthetic",
        sweep,
        chosen,
        {"likelihood": 0.7},
        record,
        {"prior (causal)": 0.6},
        tmp_path,
        restoration_quantile=0.01,
        restoration_score="difference_rarity",
        smoke=True,
    )
    assert set(summary) == NOTEBOOK_05_KEYS
    assert all(summary[method] is results[method] for method in anomaly.METHODS)
    assert (summary["num_slices"], summary["num_lesion_slices"]) == (3, 2)
    assert (summary["flag_quantile"], summary["num_restorations"]) == (0.1, 2)
    assert (summary["flag_threshold"], summary["restoration_threshold"]) == (0.005, 0.004)
    assert (summary["max_restorations"], summary["median_size"], summary["validation_slices"]) == (
        2,
        3,
        2,
    )
    assert summary["blind_spot"] == {
        "hole": 1,
        "epochs": 2,
        "folder": "05_anomaly_detection/blind_spot/abc123",
        "loaded": False,
        "train_seconds": 4.5,
        "validation_bits_per_code": pytest.approx(2.0),
        "code_auroc_validation": {"prior (causal)": 0.6},
    }
    assert summary["tradeoff"] is sweep.rows and summary["resampled_fraction_test"] == 0.5
    assert summary["restoration_score"] == "difference_rarity"
    assert (summary["source"], summary["restoration_quantile"], summary["smoke"]) == (
        "synthetic",
        0.01,
        True,
    )
    with pytest.raises(ValueError, match="restoration"):
        anomaly.anomaly_summary(
            {"reconstruction": {}},
            test_maps,
            masks,
            "synthetic",
            sweep,
            chosen,
            {},
            record,
            {},
            tmp_path,
            restoration_quantile=0.01,
            restoration_score="difference",
            smoke=True,
        )
