# The two commands: `make run` starts the local cloud, `make test` runs every test.
# Both set up what they need on first use (venvs, pinned packages, emulators).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Without cached bytecode every start re-compiles google-cloud's modules (seconds, not ms).
unexport PYTHONDONTWRITEBYTECODE
# uv must use the machine's Python 3.13, never download one.
export UV_PYTHON_DOWNLOADS := never

TOOLS := .cache/tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
EMULATOR_VENV := .venv-bigquery-emulator
EMULATOR_HOME := .localcloud/bigquery-home
REDIS_ENABLED ?= false
PYTEST_ARGS ?=
# One Python for everything, found on PATH or through pyenv; where there is none, the script's
# one-line error ends the recipe.
FIND_PYTHON := py=$$(tools/python313.sh) || exit 1
# Every venv of the checkout finds the event_capture namespace (its two source roots), the
# tools, the local cloud and the Pulumi program through one .pth file, as an editable install.
define write_pth
	@$(1) -c 'import sysconfig, sys; open(sysconfig.get_paths()["purelib"] + "/event-capture.pth", "w").write("\n".join(sys.argv[1:]) + "\n")' "$(CURDIR)/src" "$(CURDIR)/client/src" "$(CURDIR)"
endef

.PHONY: backfill-archive purge forget help run test check lint typecheck layers sql-check iam-proof monitoring-names schema-drift docs docs-check fast-test bench schemas setup redis-server chromium replay nightly materialize warehouse demo report plan deploy-venvs clean clean-data

help:
	@echo "make run        start the local cloud: emulators + capture function on 127.0.0.1:8080"
	@echo "make test       set up and run every check and test (lint, types, schema and docs drift, pytest)"
	@echo "make check      ruff + mypy + package layers + SQL analysis + IAM and monitoring proofs + schema drift + docs drift and strict docs build"
	@echo "make fast-test  the tests that need no emulator (pytest -m 'not integration')"
	@echo "make bench      capture, request path, client, warehouse and fault benchmarks (print figures; not tests)"
	@echo "make cost       the monthly bill per component (USERS=5000 EVENTS_PER_USER_DAY= REDIS=true COST_ARGS='--compare')"
	@echo "make fuzz       atheris on parse-and-validate, schemathesis on the function (FUZZ_SECONDS=300 each)"
	@echo "make schemas    regenerate the tables' JSON and the OpenAPI document from the schemas"
	@echo "make docs       regenerate the docs' reference pages (docs/reference/) from the code"
	@echo "make docs-check fail on reference drift, then build the docs site into site/ (--strict)"
	@echo "make replay     re-insert dead-lettered rows (same variables as the function)"
	@echo "make backfill-archive FROM=.. TO=..  archive what BigQuery holds and the archive lacks (DRY_RUN=true)"
	@echo "make forget USER=<id>                 remove one user from every store of make run's cloud (SUPPRESS=true: drop their later events; LIFT=true: accept them again)"
	@echo "make purge SOURCE=<key id> FROM=.. TO=..  remove what arrived that way from every store (EXECUTE=true; dry run without; LOCAL=true: make run's)"
	@echo "make nightly    run the nightly scheduled queries once on make run's cloud (RUN_DATE=)"
	@echo "make materialize  load the newest feature snapshot into make run's Redis"
	@echo "make warehouse  make nightly, then make materialize (REDIS_ENABLED=true make run first)"
	@echo "make demo       fill make run's cloud with a month of a small shop, then build the warehouse (DEMO_ARGS='--users 50 --days 30 --seed 24')"
	@echo "make report     the analytics report as one HTML page, REPORT=report.html (PROJECT= for a deployed one)"
	@echo "make plan       print what pulumi up would create (mocked; STACK=Pulumi.<stack>.yaml)"
	@echo "make deploy-venvs  create the venvs pulumi up and the policy pack run in"
	@echo "make clean-data forget the local BigQuery/GCS data of make run"

# uv installs in seconds what pip takes minutes for; it is bootstrapped once with pip.
$(UV):
	@echo "installing uv $(UV_VERSION) into $(TOOLS)"
	@$(FIND_PYTHON); $$py -m pip --version >/dev/null 2>&1 || bash tools/install-pip.sh "$$py"
	@$(FIND_PYTHON); $$py -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target $(TOOLS) uv==$(UV_VERSION) 2>&1 | grep -v "^WARNING: Location" || true
	@test -x $(UV) || { echo "error: could not install uv with $$(tools/python313.sh) -m pip" >&2; exit 1; }

$(VENV)/.installed: requirements/dev.txt functions/capture/requirements.txt functions/collector/requirements.txt infra/requirements.txt infra/policy/requirements.txt | $(UV)
	@echo "creating $(VENV) (Python 3.13)"
	@$(FIND_PYTHON); $(UV) venv --quiet --allow-existing --python $$py $(VENV)
	@$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements/dev.txt
	$(call write_pth,$(PY))
	@touch $@

$(EMULATOR_VENV)/.installed: requirements/bigquery-emulator.txt requirements/bigquery-emulator-duckdb.txt localcloud/install-bigquery-emulator.sh | $(UV)
	@echo "installing the BigQuery emulator into $(EMULATOR_VENV) (Python 3.13)"
	@$(FIND_PYTHON); bash localcloud/install-bigquery-emulator.sh $(UV) $$py $(EMULATOR_VENV) $(EMULATOR_HOME)
	@touch $@

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null; \
	  else \
	    echo "error: redis-server is not installed; run: sudo apt-get install -y redis-server" >&2; exit 1; \
	  fi; }

# The browser the browser SDK's integration test drives (Playwright, never a downloaded one).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else \
	    echo "error: chromium is not installed; run: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; }

# The real JavaScript SDKs the collector's integration tests run, exactly as locked (npm ci).
# Node 20 or later (the SDKs' engines) is a prerequisite: Debian 12's own nodejs is 18.
JS_SDKS := tests/integration/js
$(JS_SDKS)/node_modules/.installed: $(JS_SDKS)/package.json $(JS_SDKS)/package-lock.json
	@node -e 'process.exit(parseInt(process.versions.node) < 20 ? 1 : 0)' 2>/dev/null && command -v npm >/dev/null || { \
	  echo "error: Node 20 or later with npm is required for $(JS_SDKS) (https://nodejs.org)" >&2; exit 1; }
	@echo "installing the JavaScript SDKs into $(JS_SDKS)/node_modules (npm ci)"
	@npm ci --prefix $(JS_SDKS) --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

setup: $(VENV)/.installed $(EMULATOR_VENV)/.installed

# BigQuery's analyzer for make check (tools/sql_check.py); its module compiles once into .cache.
ZETASQL_VENV := .venv-zetasql
$(ZETASQL_VENV)/.installed: requirements/zetasql.txt | $(UV)
	@echo "creating $(ZETASQL_VENV) (Python 3.13) for the SQL analysis"
	@$(FIND_PYTHON); $(UV) venv --quiet --allow-existing --python $$py $(ZETASQL_VENV)
	@$(UV) pip install --quiet --compile-bytecode --python $(ZETASQL_VENV)/bin/python -r requirements/zetasql.txt
	$(call write_pth,$(ZETASQL_VENV)/bin/python)
	@touch $@

run: setup $(if $(filter true,$(REDIS_ENABLED)),redis-server)
	@REDIS_ENABLED=$(REDIS_ENABLED) $(PY) -m localcloud.run

# Everything CI checks: lint, types, schema and docs drift first (a minute), then every test.
test: check setup redis-server chromium $(JS_SDKS)/node_modules/.installed
	@$(PY) -m pytest $(PYTEST_ARGS)

fast-test: $(VENV)/.installed
	@$(PY) -m pytest -m "not integration" -q $(PYTEST_ARGS)

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

# mypy keeps its cache in .mypy_cache (ignored by git); the client is checked once more at the
# oldest Python it supports.
typecheck: $(VENV)/.installed
	@$(VENV)/bin/mypy
	@for main in functions/*/main.py; do $(VENV)/bin/mypy --no-error-summary $$main || exit 1; done
	@$(VENV)/bin/mypy --python-version 3.11 client/src

schema-drift: $(VENV)/.installed
	@$(PY) -m event_capture.tables.generate --check
	@$(PY) -m event_capture.ingest.openapi --check

# The reference pages are generated from the code (tools/docs_reference.py); the strict build
# fails on a broken link or anchor. Offline: no plugin fetches anything, no web font is used.
# Not `--quiet`: mkdocs 1.6 then drops the warnings before strict mode counts them (mkdocs issue
# 4126), so the build's output is shown only when it fails.
docs: $(VENV)/.installed
	@$(PY) -m tools.docs_reference

docs-check: $(VENV)/.installed
	@$(PY) -m tools.docs_reference --check
	@out=$$(NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict 2>&1) || { echo "$$out" >&2; exit 1; }

# Every statement deployed or run on BigQuery through ZetaSQL in BigQuery's language mode; a
# line for each failure (file, line, message) and one summary line.
sql-check: $(VENV)/.installed $(ZETASQL_VENV)/.installed
	@$(PY) -m tools.sql_check

# Every permission the deployed code needs traced to a grant of a real role, and every grant to a
# need (tools/iam_proof.py): its summary line; every account's block when a check fails.
iam-proof: $(VENV)/.installed
	@out=$$($(PY) -W ignore -m tools.iam_proof 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | tail -1

# Every metric, resource type and label the alerts and the dashboard filter on, against Google's
# published names and the stack's log-based metrics (tools/monitoring_names.py).
monitoring-names: $(VENV)/.installed
	@$(PY) -W ignore -m tools.monitoring_names 2>&1 | grep -v "^budgetAmount"; exit $${PIPESTATUS[0]}

# The package layers (pyproject.toml [tool.importlinter]); its report only when a contract breaks.
layers: $(VENV)/.installed
	@out=$$($(VENV)/bin/lint-imports --no-cache 2>&1) || { echo "$$out"; exit 1; }

check: lint typecheck layers sql-check iam-proof monitoring-names schema-drift docs-check

schemas: $(VENV)/.installed
	@$(PY) -m event_capture.tables.generate
	@$(PY) -m event_capture.ingest.openapi

bench: setup
	@$(PY) bench/pipeline_cpu.py
	@$(PY) bench/scrub_cost.py
	@$(PY) bench/capture_throughput.py
	@$(PY) bench/request_path.py
	@$(PY) bench/collector_cpu.py
	@$(PY) bench/edge_limits.py
	@$(PY) bench/client_latency.py
	@$(PY) bench/warehouse_nightly.py
	@$(PY) bench/features_serving.py
	@$(PY) bench/faults.py

# The bill at list prices; row sizes and the nightly reads are measured on a local cloud the
# first time (about two minutes) and cached in .localcloud/cost/. `COST_ARGS=--help` lists
# every assumption and its default.
.PHONY: cost
cost: setup
	@$(PY) -m tools.cost $(if $(USERS),--users $(USERS)) $(if $(EVENTS_PER_USER_DAY),--events-per-user-day $(EVENTS_PER_USER_DAY)) $(if $(filter true,$(REDIS)),--redis) $(COST_ARGS)

# Fuzzing needs its own venv (atheris, schemathesis), so `make test` never installs them.
FUZZ_VENV := .venv-fuzz
FUZZ_SECONDS ?= 300
FUZZ_EXAMPLES ?= 100

$(FUZZ_VENV)/.installed: requirements/fuzz.txt functions/capture/requirements.txt | $(UV)
	@echo "creating $(FUZZ_VENV) (Python 3.13) for make fuzz"
	@$(FIND_PYTHON); $(UV) venv --quiet --allow-existing --python $$py $(FUZZ_VENV)
	@$(UV) pip install --quiet --python $(FUZZ_VENV)/bin/python -r requirements/fuzz.txt
	$(call write_pth,$(FUZZ_VENV)/bin/python)
	@touch $@

# Longer than make test and not part of it: atheris for FUZZ_SECONDS, then schemathesis against
# the function on the local cloud for at most FUZZ_SECONDS; a summary, and exit 1 on a finding.
.PHONY: fuzz
fuzz: $(FUZZ_VENV)/.installed $(EMULATOR_VENV)/.installed
	@$(FUZZ_VENV)/bin/python -m fuzz.run --seconds $(FUZZ_SECONDS) --examples $(FUZZ_EXAMPLES)

replay: $(VENV)/.installed
	@$(PY) -m tools.replay

purge: $(VENV)/.installed
	@$(PY) -m tools.purge --source "$(SOURCE)" --from "$(FROM)" --to "$(TO)" $(if $(filter true,$(EXECUTE)),--execute) $(if $(filter true,$(LOCAL)),--local)

# USER must come from the command line: the shell's own USER (the login name) is never a user
# to forget.
forget: $(VENV)/.installed
	@$(if $(filter command line,$(origin USER)),,$(error make forget: give the user id, make forget USER=<id>))
	@$(PY) -m tools.forget --local --user "$(USER)" $(if $(filter true,$(SUPPRESS)),--suppress) $(if $(filter true,$(LIFT)),--lift-suppression)

backfill-archive: $(VENV)/.installed
	@$(PY) -m tools.backfill_archive --from "$(FROM)" --to "$(TO)" $(if $(filter true,$(DRY_RUN)),--dry-run)

RUN_DATE ?= $(shell date -u +%F)
nightly: $(VENV)/.installed
	@$(PY) -m tools.nightly --backfill --run-date $(RUN_DATE)

materialize: $(VENV)/.installed
	@$(PY) -m tools.materialize

warehouse: nightly materialize

# A month of a small shop through make run's collector and capture function, then every night's
# scheduled queries and the materializer (tools/demo.py), so that make report has every chart.
DEMO_ARGS ?=
demo: $(VENV)/.installed
	@$(PY) -m tools.demo $(DEMO_ARGS)

# The analytics report, one self-contained HTML page (tools/report.py): make run's local cloud,
# or PROJECT=<id> with Application Default Credentials. UNTIL= and DAYS= pick the days.
REPORT ?= report.html
report: $(VENV)/.installed
	@$(PY) -m tools.report --output $(REPORT) $(if $(PROJECT),--project $(PROJECT)) $(if $(UNTIL),--until $(UNTIL)) $(if $(DAYS),--days $(DAYS)) $(REPORT_ARGS)

STACK ?= Pulumi.example.yaml
plan: $(VENV)/.installed
	@$(PY) -W ignore::DeprecationWarning -m tools.plan $(STACK)

# What `pulumi up` and `pulumi preview --policy-pack infra/policy` run in (see Pulumi.yaml and
# infra/policy/PulumiPolicy.yaml): only the program's own packages, nothing of the function's.
deploy-venvs: infra/.venv/.installed infra/policy/.venv/.installed

infra/.venv/.installed: infra/requirements.txt | $(UV)
	@$(FIND_PYTHON); $(UV) venv --quiet --allow-existing --seed --python $$py infra/.venv
	@$(UV) pip install --quiet --compile-bytecode --python infra/.venv/bin/python -r infra/requirements.txt
	$(call write_pth,infra/.venv/bin/python)
	@touch $@

infra/policy/.venv/.installed: infra/policy/requirements.txt | $(UV)
	@$(FIND_PYTHON); $(UV) venv --quiet --allow-existing --seed --python $$py infra/policy/.venv
	@$(UV) pip install --quiet --compile-bytecode --python infra/policy/.venv/bin/python -r infra/policy/requirements.txt
	$(call write_pth,infra/policy/.venv/bin/python)
	@touch $@

clean-data:
	rm -rf .localcloud/bigquery-data .localcloud/gcs

clean:
	rm -rf $(VENV) $(EMULATOR_VENV) $(FUZZ_VENV) $(ZETASQL_VENV) $(TOOLS) .localcloud .pytest_cache .mypy_cache .ruff_cache infra/.venv infra/policy/.venv infra/.build site
	rm -rf $(JS_SDKS)/node_modules
