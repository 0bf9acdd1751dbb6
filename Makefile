# Targets the README uses. Everything installs into .venv from PyPI; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup ui quickstart test test-unit lint bench clean openapi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

# The web UI (web/) as static files in dteg/server/ui/, which `dteg server` serves. Needs
# Node.js >= 20 and npm; scripts/build_ui does nothing when the build is newer than web/.
ui:
	scripts/build_ui

setup: $(STAMP) ui

# CSV → validate → mask → DuckDB on the embedded runner, then what landed.
quickstart: setup
	$(BIN)/dteg run pipelines/quickstart.yaml
	$(BIN)/python scripts/show_table.py pipelines/.dteg/warehouse.duckdb customers

test: setup
	$(BIN)/ruff check dteg tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=40

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The API's OpenAPI document, committed (tests/unit/server/test_openapi.py compares).
openapi: $(STAMP)
	$(BIN)/python -m dteg.server.openapi --output docs/openapi.json

lint: $(STAMP)
	$(BIN)/ruff check dteg tests bench scripts
	$(BIN)/mypy

# Benchmarks measure dteg as `pip install dteg` installs it (no cloud extras), in .venv-bench.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e ".[bench]"
	touch $(BENCH_VENV)/.installed

bench: $(BENCH_VENV)/.installed
	DTEG_BENCH_VENV=$(BENCH_VENV) $(BENCH_VENV)/bin/python bench/csv_pipeline.py

clean:
	rm -rf $(VENV) pipelines/.dteg .pytest_cache .mypy_cache .ruff_cache
	rm -rf web/node_modules web/.next web/out dteg/server/ui .test-artifacts
