# bravo-pipeline: `make export` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
SCALE ?= 1

.PHONY: install export test lint ui bench stop clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

export: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/bravo-pipeline export

# The UI test drives Debian's Chromium; install it when missing (skipped, loudly, without apt).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the UI test ..."; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "!!! apt-get is not available: the browser test will be SKIPPED !!!"; fi

test: $(STAMP) browser
	$(BIN)/ruff check bravo_pipeline bravo_pipeline_tests bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bravo_pipeline bravo_pipeline_tests bench

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python bench/run.py --scale $(SCALE)

stop: $(STAMP)
	$(BIN)/bravo-pipeline server stop

clean:  # removes the virtual environment only; exports, runs and the database stay
	-$(BIN)/bravo-pipeline server stop
	rm -rf $(VENV)
