# The two commands: `make run` starts the local stack, `make test` runs every test.
# Both set up what they need on first use (venvs, pinned packages, emulators).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Without cached bytecode every start re-compiles google-cloud's modules (seconds, not ms).
unexport PYTHONDONTWRITEBYTECODE

PYTHON ?= python3
TOOLS := .cache/tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
EMULATOR_VENV := .venv-bigquery-emulator
EMULATOR_HOME := .devstack/bigquery-home
REDIS_ENABLED ?= false
PYTEST_ARGS ?=

.PHONY: help run test lint typecheck check bench schemas setup redis-server replay warehouse plan deploy-venvs clean clean-data

help:
	@echo "make run        start the local stack: emulators + capture function on 127.0.0.1:8080"
	@echo "make test       set up and run every test (unit, integration, end to end)"
	@echo "make check      ruff + mypy + schema drift"
	@echo "make bench      capture, client and warehouse benchmarks (print figures; not tests)"
	@echo "make schemas    regenerate schemas/tables/*.json from the models"
	@echo "make replay     re-insert dead-lettered rows (same variables as the function)"
	@echo "make warehouse  run the daily scheduled queries once on make run's stack (RUN_DATE=)"
	@echo "make plan       print what pulumi up would create (mocked; STACK=Pulumi.<stack>.yaml)"
	@echo "make deploy-venvs  create the venvs pulumi up and the policy pack run in"
	@echo "make clean-data forget the local BigQuery/GCS data of make run"

# uv installs in seconds what pip takes minutes for; it is bootstrapped once with pip.
$(UV):
	@echo "installing uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(TOOLS) uv==$(UV_VERSION) 2>&1 | grep -v "^WARNING: Location" || true
	@test -x $(UV) || { echo "error: could not install uv with $(PYTHON) -m pip" >&2; exit 1; }

$(VENV)/.installed: requirements/dev.txt functions/capture/requirements.txt infra/requirements.txt infra/policy/requirements.txt | $(UV)
	@echo "creating $(VENV) (Python 3.11)"
	@$(UV) venv --quiet --allow-existing --python 3.11 $(VENV)
	@$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements/dev.txt
	@touch $@

$(EMULATOR_VENV)/.installed: requirements/bigquery-emulator.txt requirements/bigquery-emulator-duckdb.txt devstack/install-bigquery-emulator.sh | $(UV)
	@echo "installing the BigQuery emulator into $(EMULATOR_VENV) (Python 3.13)"
	@bash devstack/install-bigquery-emulator.sh $(UV) $(EMULATOR_VENV) $(EMULATOR_HOME)
	@touch $@

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null; \
	  else \
	    echo "error: redis-server is not installed; run: sudo apt-get install -y redis-server" >&2; exit 1; \
	  fi; }

setup: $(VENV)/.installed $(EMULATOR_VENV)/.installed

run: setup $(if $(filter true,$(REDIS_ENABLED)),redis-server)
	@REDIS_ENABLED=$(REDIS_ENABLED) $(PY) -m devstack.run

test: setup redis-server
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	@$(VENV)/bin/mypy

check: lint typecheck
	@$(PY) -m schemas.generate --check

schemas: $(VENV)/.installed
	@$(PY) -m schemas.generate

bench: setup
	@$(PY) bench/pipeline_cpu.py
	@$(PY) bench/capture_throughput.py
	@$(PY) bench/client_latency.py
	@$(PY) bench/warehouse_nightly.py

replay: $(VENV)/.installed
	@PYTHONPATH=functions/capture:. $(PY) -m ingest.replay

RUN_DATE ?= $(shell date -u +%F)
warehouse: $(VENV)/.installed
	@$(PY) -m devstack.warehouse --run-date $(RUN_DATE)

STACK ?= Pulumi.example.yaml
plan: $(VENV)/.installed
	@$(PY) -W ignore::DeprecationWarning -m infra.plan $(STACK)

# What `pulumi up` and `pulumi preview --policy-pack infra/policy` run in (see Pulumi.yaml and
# infra/policy/PulumiPolicy.yaml): only the program's own packages, nothing of the function's.
deploy-venvs: infra/.venv/.installed infra/policy/.venv/.installed

infra/.venv/.installed: infra/requirements.txt | $(UV)
	@$(UV) venv --quiet --allow-existing --python 3.11 infra/.venv
	@$(UV) pip install --quiet --compile-bytecode --python infra/.venv/bin/python -r infra/requirements.txt
	@touch $@

infra/policy/.venv/.installed: infra/policy/requirements.txt | $(UV)
	@$(UV) venv --quiet --allow-existing --python 3.11 infra/policy/.venv
	@$(UV) pip install --quiet --compile-bytecode --python infra/policy/.venv/bin/python -r infra/policy/requirements.txt
	@touch $@

clean-data:
	rm -rf .devstack/bigquery-data .devstack/gcs

clean:
	rm -rf $(VENV) $(EMULATOR_VENV) $(TOOLS) .devstack .pytest_cache .mypy_cache .ruff_cache infra/.venv infra/policy/.venv infra/.build
