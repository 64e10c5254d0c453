# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INTEROP := tests/interop
ANVIL := tools/anvil
DATA_DIR ?= data

.PHONY: run test lint typecheck unit env interop-deps anvil-deps contracts bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

env: $(STAMP)

$(INTEROP)/node_modules/.installed: $(INTEROP)/package-lock.json
	npm ci --prefix $(INTEROP) --no-audit --no-fund --loglevel=error
	touch $@

interop-deps: $(INTEROP)/node_modules/.installed

$(ANVIL)/node_modules/.installed: $(ANVIL)/package-lock.json
	npm ci --prefix $(ANVIL) --no-audit --no-fund --loglevel=error
	touch $@

anvil-deps: $(ANVIL)/node_modules/.installed

contracts: env
	$(BIN)/python scripts/build_contracts.py

run: env
	$(BIN)/koinon up --data-dir $(DATA_DIR)

lint: env
	$(BIN)/ruff check koinon tests benchmarks scripts
	$(BIN)/ruff format --check koinon tests benchmarks scripts
	$(BIN)/lint-imports

typecheck: env
	$(BIN)/mypy

# Tests run on every core (pytest-xdist), a test file per worker so module fixtures are built once;
# `make unit PYTEST_ARGS=` runs them in one process.
PYTEST_ARGS ?= -n auto --dist loadfile

unit: env interop-deps anvil-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: env
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(INTEROP)/node_modules $(ANVIL)/node_modules .pytest_cache .mypy_cache .ruff_cache
