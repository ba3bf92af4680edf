# The two commands of the series: `make run` (every notebook, headless, on the demo
# cohort, results in runs/demo; it prints each notebook's sections and messages as
# they run) and `make test` (ruff + pytest). Both create the virtual environment .venv
# from pyproject.toml when it is missing or out of date, and register the Jupyter
# kernel `oasis-vqvae` (quiet TensorFlow start-up; see oasis_helpers/series.py).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := oasis-vqvae
RUN_DIR ?= runs/demo

.PHONY: run test lint lab clean-runs

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m oasis_helpers.series --install-kernel --kernel $(KERNEL) >/dev/null
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m oasis_helpers.series --run-dir $(RUN_DIR) --kernel $(KERNEL)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lab: $(STAMP)
	$(BIN)/python -c "from oasis_helpers import series; series.ensure_kernel('$(KERNEL)')"
	$(BIN)/jupyter lab notebooks/

clean-runs:
	rm -rf runs/
