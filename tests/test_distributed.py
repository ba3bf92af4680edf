"""Multi-worker training: two worker processes on the loopback address train one VQ-VAE.

The two-process tests start ``tests/multiworker_worker.py`` twice with ``TF_CONFIG``
naming both workers on 127.0.0.1 (free ports), train a tiny VQ-VAE in graph mode
through ``training.fit`` and check that the workers stop at the same step with the
same weights, that only the chief writes the run folder, and that a second launch
resumes from the chief's backup on both workers. A hang fails the test (every
process has a deadline and is killed in ``finally``). The other tests check the
helpers of ``oasis_helpers.distributed`` without a cluster, and that every writer of the
package's artifacts (metrics, codes, figures, models) writes on the chief only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import oasis_fixtures as fx
import pytest

from oasis_helpers import code_grids, distributed, models, runs

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "multiworker_worker.py"
#: Seconds one launch of both workers may take (TensorFlow start-up, tracing, training).
LAUNCH_DEADLINE = 300
#: Files ``fit`` writes into the run folder (no TensorBoard: the worker turns it off).
RUN_FILES = {
    "backup",
    "best.keras",
    "last.keras",
    "run_config.json",
    "training_log.csv",
    "training_state.json",
}


# ---------------------------------------------------------------------------------------------
# Who is the chief (no cluster needed)
# ---------------------------------------------------------------------------------------------
def _set_tf_config(monkeypatch, cluster, task_type, index):
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})
    )


def test_the_chief_is_the_chief_task_or_else_worker_zero(monkeypatch):
    workers = ["127.0.0.1:1", "127.0.0.1:2"]
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distributed.is_chief() and distributed.cluster_tasks() == ({}, None, 0)
    _set_tf_config(monkeypatch, {"worker": workers}, "worker", 0)
    assert distributed.is_chief()
    _set_tf_config(monkeypatch, {"worker": workers}, "worker", 1)
    assert not distributed.is_chief()
    with_chief = {"chief": ["127.0.0.1:3"], "worker": workers}
    _set_tf_config(monkeypatch, with_chief, "worker", 0)
    assert not distributed.is_chief()
    _set_tf_config(monkeypatch, with_chief, "chief", 0)
    assert distributed.is_chief()


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"cluster": {}}), "needs a 'cluster'"),
        (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps"}}), "'task'"),
        (
            json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
            "index 3 is out of range",
        ),
    ],
)
def test_a_bad_tf_config_gets_a_clear_error(monkeypatch, text, message):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(ValueError, match=message):
        distributed.is_chief()
    # select_strategy checks TF_CONFIG before it creates anything
    with pytest.raises(ValueError, match="TF_CONFIG"):
        runs.select_strategy(mixed_precision=False)


def test_only_the_chief_writes_metrics(monkeypatch, tmp_path):
    _set_tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 1)
    path = runs.write_metrics(tmp_path, "03_train_vqvae", {"ssim": 0.9})
    assert path == tmp_path / "03_train_vqvae" / "metrics.json"
    assert not path.exists()
    _set_tf_config(monkeypatch, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "worker", 0)
    assert json.loads(runs.write_metrics(tmp_path, "03_train_vqvae", {"ssim": 0.9}).read_text())


def test_only_the_chief_writes_codes_figures_and_models(monkeypatch, tmp_path, trained, images):
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oasis_helpers import plots, runs

    model, _ = trained
    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    figure = plt.figure()
    for index, writes in ((1, False), (0, True)):
        monkeypatch.setenv(
            "TF_CONFIG",
            json.dumps({"cluster": workers, "task": {"type": "worker", "index": index}}),
        )
        folder = tmp_path / f"worker{index}"
        grids = code_grids.save_codes(folder / code_grids.CODES_FILE, model, fx.fake_source(images))
        assert grids["train"].codes.shape == (5, 8, 8)  # every worker encodes
        figure_path = plots.save_figure(figure, folder, "figure")
        model_path = runs.save_model(model, folder / models.VQVAE_FILE)
        for path in (folder / code_grids.CODES_FILE, figure_path, model_path):
            assert path.exists() == writes, (index, path)
    plt.close(figure)
    assert not list((tmp_path / "worker0").glob("*.partial*"))
    reloaded = models.load_vqvae(tmp_path / "worker0" / models.VQVAE_FILE)
    np.testing.assert_array_equal(reloaded.encode(images[:2]), model.encode(images[:2]))
    with pytest.raises(ValueError, match=r"\.keras"):
        runs.save_model(model, tmp_path / "vqvae.h5")


def test_without_a_cluster_the_helpers_change_nothing(tmp_path):
    import tensorflow as tf

    from oasis_helpers.callbacks import TimeBudget

    strategy = tf.distribute.get_strategy()
    assert not distributed.is_multi_worker(strategy)
    assert distributed.worker_run_dir(tmp_path / "run", strategy) == tmp_path / "run"
    assert distributed.agree(True, strategy) and not distributed.agree(False, strategy)
    assert distributed.chief_value(2.5, strategy) == 2.5
    budget = TimeBudget(60.0)
    assert distributed.synchronise_callbacks([budget], strategy) == [budget]
    assert "clock" not in vars(budget)  # the budget keeps its own clock


# ---------------------------------------------------------------------------------------------
# Two worker processes
# ---------------------------------------------------------------------------------------------
def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def _launch(folder: Path, run_dir: Path, name: str, *options: str) -> list[dict]:
    """Run both workers to the end (or kill them at the deadline); return their reports."""
    ports = ",".join(str(port) for port in _free_ports(2))
    processes, logs = [], []
    try:
        for index in range(2):
            scratch = folder / f"{name}-tmp{index}"
            scratch.mkdir(parents=True)
            log = folder / f"{name}-worker{index}.log"
            logs.append(log)
            environment = dict(os.environ, TMPDIR=str(scratch), CUDA_VISIBLE_DEVICES="-1")
            environment.pop("TF_CONFIG", None)
            environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            command = [
                sys.executable,
                str(WORKER),
                f"--index={index}",
                f"--ports={ports}",
                f"--run-dir={run_dir}",
                f"--result={folder / f'{name}-result{index}.json'}",
                *options,
            ]
            with log.open("w") as output:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
                    )
                )
        deadline = time.monotonic() + LAUNCH_DEADLINE
        while any(process.poll() is None for process in processes):
            for index, process in enumerate(processes):
                # a worker that failed leaves the other waiting in a collective: stop at once
                assert process.poll() in (None, 0), (
                    f"worker {index} failed ({process.returncode}):\n{_tail(logs[index])}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the workers did not finish within {LAUNCH_DEADLINE} s (a hang in a "
                    f"collective?); their output ends with:\n"
                    + "\n---\n".join(_tail(log) for log in logs)
                )
            time.sleep(0.5)
        for index, process in enumerate(processes):
            assert process.returncode == 0, f"worker {index} failed:\n{_tail(logs[index])}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    reports = []
    for index in range(2):
        report = json.loads((folder / f"{name}-result{index}.json").read_text())
        report["weights"] = dict(np.load(folder / f"{name}-result{index}.json.npz"))
        report["scratch"] = folder / f"{name}-tmp{index}"
        reports.append(report)
    return reports


def _check_one_set_of_artefacts(run_dir: Path, chief: dict, worker: dict) -> None:
    """Only the chief wrote ``run_dir``; the worker wrote a private folder, now deleted."""
    assert {path.name for path in run_dir.iterdir()} == RUN_FILES
    assert Path(chief["run_dir"]) == run_dir
    assert Path(worker["run_dir"]) != run_dir
    assert Path(worker["run_dir"]).parent == worker["scratch"]
    assert "training_state.json" in worker["written"]  # its Keras callbacks wrote there ...
    assert not Path(worker["run_dir"]).exists()  # ... and the folder went with the process
    assert list(worker["scratch"].iterdir()) == []
    assert list(chief["scratch"].iterdir()) == []  # the chief wrote nothing elsewhere
    state = json.loads((run_dir / "training_state.json").read_text())
    assert state["epochs_completed"] == chief["epochs_completed"]
    log = (run_dir / "training_log.csv").read_text().strip().splitlines()
    assert len(log) == 1 + chief["epochs_completed"]  # header + one row per finished epoch


def _check_identical_weights(chief: dict, worker: dict) -> None:
    """Every weight, the codebook included, is bit-identical on both workers."""
    assert sorted(chief["weights"]) == sorted(worker["weights"]) != []
    differing = [
        name
        for name in chief["weights"]
        if not np.array_equal(chief["weights"][name], worker["weights"][name])
    ]
    assert differing == [], f"weights differ between the workers: {differing}"


def test_two_workers_stop_together_with_one_writer_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    # 1. a time budget read from the chief's fake clock (the other worker's own clock
    #    would say the budget is spent at its first step), and a callback on the
    #    non-chief that asks to stop after the first epoch: neither may split them.
    chief, worker = _launch(
        tmp_path,
        run_dir,
        "budget",
        "--epochs=50",
        "--max-train-minutes=0.5",
        "--clock-step=1",
        "--worker-stops-after-epoch=0",
    )
    assert chief["chief"] and not worker["chief"]
    assert chief["replicas"] == worker["replicas"] == 2
    for report in (chief, worker):
        assert report["stopped_by"] == "time_budget"
        assert 1 < report["epochs_completed"] < 50  # past the non-chief's wish, before epochs
    for key in ("epochs_completed", "partial_epoch_steps", "optimizer_steps"):
        assert chief[key] == worker[key], key
    assert chief["dead_codes_restarted"] == worker["dead_codes_restarted"] > 0
    _check_one_set_of_artefacts(run_dir, chief, worker)
    _check_identical_weights(chief, worker)
    stopped_at = chief["epochs_completed"]

    # 2. a new launch with two more epochs: both workers resume from the chief's backup
    #    (the non-chief's own folder is gone) and end together again.
    chief, worker = _launch(tmp_path, run_dir, "resume", f"--epochs={stopped_at + 2}")
    for report in (chief, worker):
        assert report["initial_epoch"] == stopped_at
        assert report["epochs_completed"] == stopped_at + 2
        assert report["stopped_by"] == "epochs"
    assert chief["optimizer_steps"] == worker["optimizer_steps"]
    _check_one_set_of_artefacts(run_dir, chief, worker)
    _check_identical_weights(chief, worker)
