# The two commands of the series: `make run` (every notebook, headless, on the demo
# cohort, results in runs/demo) and `make test` (ruff + pytest). Both create the
# virtual environment .venv from pyproject.toml when it is missing or out of date.

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
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python (oasis-vqvae)" >/dev/null
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
	$(BIN)/jupyter lab notebooks/

clean-runs:
	rm -rf runs/
