# Two commands on a fresh machine with Python 3.11: `make up` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install up test lint bench browser-deps checkov-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Install, then run the whole system on its embedded defaults and walk the demo tenant.
up: install
	$(BIN)/byok up --demo

## Install (Python packages and Debian's Chromium for the browser tests), then run every test.
test: install browser-deps checkov-deps
	$(BIN)/pytest

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# checkov pins an older boto3 than the service needs: it gets a venv of its own.
.venv-checkov/bin/checkov:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q 'checkov==3.3.30'

checkov-deps: .venv-checkov/bin/checkov

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

bench: install
	$(BIN)/python -m bench.bench_envelope
	$(BIN)/python -m bench.bench_kms --n 10000
	$(BIN)/python -m bench.bench_backups_e2e
	$(BIN)/python -m bench.bench_health_sweep
