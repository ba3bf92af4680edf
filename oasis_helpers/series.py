"""Execute the notebook series headless with papermill, in order, showing progress.

``make run`` calls this module; ``tests/test_notebooks.py`` uses
:func:`run_notebook` with ``smoke=True``. Each executed notebook is written next
to its artifacts, as ``run_dir/<stem>/<stem>.ipynb``.

While a notebook runs, the console shows each section as it starts (with the
count of cells done) and the notebook's own printed lines (its version table,
its training epochs, its results), indented under the notebook's name::

    running 03_train_vqvae.ipynb (31 cells)
      [ 9/31] 4. Training that survives interruptions
        | Epoch 1/20 - 19s - loss: 0.0212 - ...

What the console does not show: TensorFlow's C++ start-up lines (absl,
oneDNN, the cudart stub, ``failed call to cuInit``) and the kernel's own log.
The project kernel (:func:`ensure_kernel`) sets ``TF_CPP_MIN_LOG_LEVEL=3`` and
imports TensorFlow once when it starts, before any cell runs, so the lines
TensorFlow writes while it loads (which ignore ``TF_CPP_MIN_LOG_LEVEL``) belong
to no cell and reach no notebook. The kernel's standard error (those lines,
and anything a crashing kernel says) goes to ``run_dir/<stem>/kernel.log``,
whose end is printed when a notebook fails. The kernel's channels are encrypted
(CurveZMQ keys from the kernel manager), which is also what silences the
kernel's "running over TCP without encryption" warning.

Usage::

    python -m oasis_helpers.series --run-dir runs/demo [--smoke] [--data-dir DIR]
    python -m oasis_helpers.series --install-kernel   # (re-)register the project kernel
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from oasis_helpers import runs

DEFAULT_KERNEL = "oasis-vqvae"

#: Environment of the project kernel: TensorFlow's C++ logs at FATAL only.
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
#: TensorFlow settings the project kernel starts with on x86-64 unless the environment
#: already sets them (:func:`start_kernel`). TensorFlow turns its oneDNN CPU kernels on by
#: itself only on CPUs with AVX-512 VNNI or newer; on AVX2-only CPUs (most AMD and older
#: Intel laptops) forcing them on trains the VQ-VAE and the blind-spot model faster than
#: the default Eigen kernels (``benchmarks/cpu_kernels.py``: ``results.onednn_avx2``
#: against ``results.eigen``). ``TF_ENABLE_ONEDNN_OPTS=0`` in the environment (as CI sets
#: it) still turns them off.
KERNEL_TENSORFLOW_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1"}
#: Run by the project kernel when it starts, outside any cell: TensorFlow's
#: load-time lines (written before its log level applies) belong to no cell.
KERNEL_STARTUP = "from oasis_helpers.series import start_kernel; start_kernel()"
KERNEL_LOG = "kernel.log"


def start_kernel() -> None:
    """What the project kernel runs before any cell: TensorFlow's settings, then its import.

    On x86-64, each of :data:`KERNEL_TENSORFLOW_DEFAULTS` is set unless the environment
    already names it; then TensorFlow is imported, so that its load-time lines go to the
    kernel's log and not into a cell's output.
    """
    if platform.machine().lower() in ("x86_64", "amd64"):
        for name, value in KERNEL_TENSORFLOW_DEFAULTS.items():
            os.environ.setdefault(name, value)
    import tensorflow  # noqa: F401


def notebook_paths(notebooks_dir: str | Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in execution order."""
    folder = Path(notebooks_dir) if notebooks_dir else runs.project_root() / "notebooks"
    paths = sorted(path for path in folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return paths


def _kernel_spec_is_current(spec) -> bool:
    startup = f"--IPKernelApp.exec_lines={KERNEL_STARTUP}"
    return (
        Path(spec.argv[0]).absolute() == Path(sys.executable).absolute()
        and startup in spec.argv
        and all(spec.env.get(name) == value for name, value in KERNEL_ENV.items())
    )


def ensure_kernel(kernel_name: str = DEFAULT_KERNEL, force: bool = False) -> Path:
    """Register this Python as Jupyter kernel ``kernel_name`` (in ``sys.prefix``) when needed.

    Papermill otherwise runs a notebook on whatever kernel its metadata names,
    which may be another Python without the project's packages. The
    kernel gets :data:`KERNEL_ENV` and runs :data:`KERNEL_STARTUP` when it starts,
    so neither JupyterLab nor papermill shows TensorFlow's C++ start-up lines in a
    notebook. A registration that lacks them (or points at another Python) is
    replaced; ``force`` replaces it in any case. Returns the kernel's folder.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(kernel_name)
        if not force and _kernel_spec_is_current(spec):
            return Path(spec.resource_dir)
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    folder = Path(
        install(
            kernel_name=kernel_name,
            display_name=f"Python ({kernel_name})",
            prefix=sys.prefix,
            env=dict(KERNEL_ENV),
        )
    )
    spec_file = folder / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"].append(f"--IPKernelApp.exec_lines={KERNEL_STARTUP}")
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    return folder


# ---------------------------------------------------------------------------------------------
# Progress while a notebook runs
# ---------------------------------------------------------------------------------------------
class _IndentedEcho:
    """A file-like sink for papermill's ``stdout_file``: each line indented, flushed at once."""

    def __init__(self, stream: TextIO, prefix: str = "    | "):
        self.stream = stream
        self.prefix = prefix
        self.pending = ""

    def write(self, text: str) -> int:
        # Keras progress bars rewrite one line with "\r": show only its final state
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            shown = line.rsplit("\r", 1)[-1].rstrip()
            if shown:
                self.stream.write(f"{self.prefix}{shown}\n")
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.stream.write(f"{self.prefix}{self.pending.rsplit(chr(13), 1)[-1].rstrip()}\n")
        self.pending = ""
        self.stream.flush()


def _section_titles(cells) -> list[str | None]:
    """For each cell, the title of the markdown heading it sits under (``None`` before any)."""
    titles, current = [], None
    for cell in cells:
        if cell.cell_type == "markdown":
            for line in "".join(cell.source).splitlines():
                if line.startswith("#"):
                    current = line.lstrip("#").strip()
                    break
        titles.append(current)
    return titles


def _progress_engine(stream: TextIO):
    """A papermill engine (nbclient's) that prints each section as its first cell starts."""
    from papermill.engines import NBClientEngine

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            titles = _section_titles(nb_man.nb.cells)
            total = len(nb_man.nb.cells)
            shown = {"title": None}
            original_cell_start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **more):
                title = titles[cell_index] if cell_index is not None else None
                if cell.cell_type == "code" and title and title != shown["title"]:
                    shown["title"] = title
                    stream.write(f"  [{cell_index:{len(str(total))}d}/{total}] {title}\n")
                    stream.flush()
                return original_cell_start(cell, cell_index=cell_index, **more)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return ProgressEngine


def _kernel_manager_class(log_file: TextIO):
    """nbclient's kernel manager, with the kernel's own output written to ``log_file``."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stderr", log_file)
            kw.setdefault("stdout", log_file)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    LoggedKernelManager._launch_kernel = LoggedKernelManager._async_launch_kernel
    return LoggedKernelManager


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_notebook(
    notebook: str | Path,
    run_dir: str | Path,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    echo: TextIO | None = None,
) -> Path:
    """Execute one notebook with papermill and return the path of the executed copy.

    ``run_dir`` and ``interactive=False`` are always passed; ``parameters`` adds
    or overrides the rest. The kernel starts in the repository root, with its
    standard error in ``run_dir/<stem>/kernel.log``. ``echo`` (e.g.
    ``sys.stdout``) receives the progress: each section as it starts and the
    notebook's printed lines; ``None`` prints nothing.
    """
    import papermill
    import zmq
    from papermill.engines import papermill_engines
    from traitlets.config import Config

    notebook = Path(notebook)
    run_dir = runs.resolve_run_dir(run_dir)
    out_dir = runs.notebook_dir(run_dir, notebook.stem)
    executed = out_dir / notebook.name
    kernel_log = out_dir / KERNEL_LOG
    all_parameters = {"run_dir": str(run_dir), "interactive": False, **(parameters or {})}
    # encrypted kernel channels where pyzmq has CurveZMQ (the kernel warns otherwise)
    encryption = "auto" if zmq.has("curve") else "disabled"
    options: dict[str, Any] = {}
    engine_name = None
    if echo is not None:
        engine_name = "oasis-progress"
        papermill_engines.register(engine_name, _progress_engine(echo))
        options = {"stdout_file": _IndentedEcho(echo), "stderr_file": _IndentedEcho(echo, "    ! ")}
    log_file = kernel_log.open("w")
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=all_parameters,
            engine_name=engine_name,
            kernel_name=kernel_name,
            cwd=str(runs.project_root()),
            progress_bar=False,
            kernel_manager_class=_kernel_manager_class(log_file),
            config=Config({"KernelManager": {"transport_encryption": encryption}}),
            **options,
        )
    except Exception:
        if echo is not None and _tail(kernel_log):
            echo.write(f"  last lines of {kernel_log}:\n{_tail(kernel_log)}\n")
        raise
    finally:
        log_file.close()
        for sink in options.values():
            sink.flush()
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo", help="where artifacts go")
    parser.add_argument("--data-dir", default=None, help="OASIS data folder (default: demo)")
    parser.add_argument("--smoke", action="store_true", help="tiny data and few steps")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel name")
    parser.add_argument("--only", nargs="*", help="run only these notebook stems")
    parser.add_argument(
        "--install-kernel", action="store_true", help="(re-)register the kernel and exit"
    )
    args = parser.parse_args(argv)

    if args.install_kernel:
        folder = ensure_kernel(args.kernel, force=True)
        print(f"kernel {args.kernel!r} registered in {folder}")
        return 0
    ensure_kernel(args.kernel)
    parameters: dict[str, Any] = {"smoke": args.smoke}
    if args.data_dir:
        parameters["data_dir"] = str(Path(args.data_dir).expanduser().resolve())
    started = time.perf_counter()
    for notebook in notebook_paths():
        if args.only and notebook.stem not in args.only:
            continue
        cells = len(json.loads(notebook.read_text())["cells"])
        print(f"running {notebook.name} ({cells} cells)", flush=True)
        begin = time.perf_counter()
        executed = run_notebook(notebook, args.run_dir, parameters, args.kernel, echo=sys.stdout)
        print(f"  done in {time.perf_counter() - begin:.0f} s -> {executed}", flush=True)
    print(f"series finished in {time.perf_counter() - started:.0f} s; results in {args.run_dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
