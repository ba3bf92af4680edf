"""Execute the notebook series headless with papermill, in order.

``make run`` calls this module; ``tests/test_notebooks.py`` uses
:func:`run_notebook` with ``smoke=True``. Each executed notebook is written
next to its artifacts, as ``run_dir/<stem>/<stem>.ipynb``.

Usage::

    python -m oasis_helpers.series --run-dir runs/demo [--smoke] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from oasis_helpers import runs

DEFAULT_KERNEL = "oasis-vqvae"


def notebook_paths(notebooks_dir: str | Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in execution order."""
    folder = Path(notebooks_dir) if notebooks_dir else runs.project_root() / "notebooks"
    paths = sorted(path for path in folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return paths


def ensure_kernel(kernel_name: str = DEFAULT_KERNEL) -> None:
    """Register this Python as Jupyter kernel ``kernel_name`` if it is not registered yet.

    Papermill otherwise runs a notebook on whatever kernel its metadata names,
    which may be another Python without the project's packages (DESIGN.md).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name=kernel_name, display_name=f"Python ({kernel_name})", prefix=sys.prefix)


def run_notebook(
    notebook: str | Path,
    run_dir: str | Path,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = DEFAULT_KERNEL,
) -> Path:
    """Execute one notebook with papermill and return the path of the executed copy.

    ``run_dir`` and ``interactive=False`` are always passed; ``parameters`` adds
    or overrides the rest. The kernel starts in the repository root.
    """
    import papermill

    notebook = Path(notebook)
    run_dir = runs.resolve_run_dir(run_dir)
    executed = runs.notebook_dir(run_dir, notebook.stem) / notebook.name
    all_parameters = {"run_dir": str(run_dir), "interactive": False, **(parameters or {})}
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=all_parameters,
        kernel_name=kernel_name,
        cwd=str(runs.project_root()),
        progress_bar=False,
    )
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="runs/demo", help="where artifacts go")
    parser.add_argument("--data-dir", default=None, help="OASIS data folder (default: demo)")
    parser.add_argument("--smoke", action="store_true", help="tiny data and few steps")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel name")
    parser.add_argument("--only", nargs="*", help="run only these notebook stems")
    args = parser.parse_args(argv)

    ensure_kernel(args.kernel)
    parameters: dict[str, Any] = {"smoke": args.smoke}
    if args.data_dir:
        parameters["data_dir"] = str(Path(args.data_dir).expanduser().resolve())
    started = time.perf_counter()
    for notebook in notebook_paths():
        if args.only and notebook.stem not in args.only:
            continue
        print(f"running {notebook.name} ...", flush=True)
        begin = time.perf_counter()
        executed = run_notebook(notebook, args.run_dir, parameters, args.kernel)
        print(f"  done in {time.perf_counter() - begin:.0f} s -> {executed}", flush=True)
    print(f"series finished in {time.perf_counter() - started:.0f} s; results in {args.run_dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
