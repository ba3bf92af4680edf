"""The headless runner: progress while a notebook runs, no start-up noise, the project kernel."""

from __future__ import annotations

import io
import json

import nbformat

from oasis_helpers import series


def _tiny_notebook(path, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_kernel_is_registered_with_quiet_tensorflow():
    folder = series.ensure_kernel()
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["env"]["TF_CPP_MIN_LOG_LEVEL"] == series.KERNEL_ENV["TF_CPP_MIN_LOG_LEVEL"]
    assert f"--IPKernelApp.exec_lines={series.KERNEL_STARTUP}" in spec["argv"]


def test_run_shows_progress_and_no_start_up_noise(tmp_path):
    """Sections and printed lines reach the console; TensorFlow's C++ lines and the
    kernel's TCP warning reach neither the notebook nor the console."""
    notebook = _tiny_notebook(
        tmp_path / "00_tiny.ipynb",
        [
            nbformat.v4.new_code_cell("run_dir = None", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_markdown_cell("## 1. Devices"),
            nbformat.v4.new_code_cell(
                "import tensorflow as tf\n\n"
                "print('devices:', len(tf.config.list_physical_devices()))"
            ),
            nbformat.v4.new_markdown_cell("## 2. Training"),
            nbformat.v4.new_code_cell(
                "import sys\n\nfor epoch in (1, 2):\n    print(f'Epoch {epoch}/2')\n"
                "print('a warning of our own', file=sys.stderr)"
            ),
        ],
    )
    console = io.StringIO()
    executed = series.run_notebook(notebook, tmp_path / "runs", echo=console)

    shown = console.getvalue()
    for expected in ("1. Devices", "2. Training", "| devices: ", "| Epoch 2/2"):
        assert expected in shown, f"{expected!r} missing from the progress:\n{shown}"
    assert "! a warning of our own" in shown, "the notebook's own stderr must stay visible"
    noise = ("absl", "cudart_stub", "cuInit", "oneDNN", "without encryption")
    assert not [marker for marker in noise if marker in shown], shown
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            assert not [marker for marker in noise if marker in output.get("text", "")], output
    kernel_log = (tmp_path / "runs" / "00_tiny" / series.KERNEL_LOG).read_text()
    assert "without encryption" not in kernel_log


def test_the_kernel_turns_onednn_on_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.setattr(series.platform, "machine", lambda: "x86_64")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    series.start_kernel()
    assert series.os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # as CI sets it
    series.start_kernel()
    assert series.os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    monkeypatch.setattr(series.platform, "machine", lambda: "arm64")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    series.start_kernel()
    assert "TF_ENABLE_ONEDNN_OPTS" not in series.os.environ
