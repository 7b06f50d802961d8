# lambdapipe: `make run` starts the demo stack, `make test` runs every check. Both install first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# `pip install --user uv` puts uv here, often not on PATH yet.
export PATH := $(HOME)/.local/bin:$(PATH)

UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
# AWS SDK v3 for Node.js Lambda handlers run by the local stack (LAMBDAPIPE_NODE_SDK_DIR).
NODE_SDK_DIR := .local/node-sdk
NODE_SDK_PACKAGES := @aws-sdk/client-s3@3.1175.0 @aws-sdk/client-dynamodb@3.1169.0
NODE_SDK_STAMP := $(NODE_SDK_DIR)/.installed-$(shell echo '$(NODE_SDK_PACKAGES)' | cksum | cut -d' ' -f1)

# Test processes: three on this 2-core machine, because the stack tests spend much of their time
# waiting on Airflow's loops (2 workers: 17.6 min with the cores 66% busy; 3: 12.6 min, 73%).
PYTEST_WORKERS ?= 3

# Options for run/demo/stop/status/reset, e.g. a second stack beside the first:
# make run STACK_OPTIONS="--home /tmp/stack2 --api-port 8081 --aws-port 4567" (scripts/devstack.py --help)
STACK_OPTIONS ?=

.PHONY: help install python-env test-prerequisites test test-unit test-integration test-e2e compat fidelity lint fmt docs run demo stop status reset bench bench-history chaos

help:
	@echo "make run     start Airflow + the local AWS stack in the foreground (Ctrl-C stops everything)"
	@echo "make test    install, then ruff check, ruff format --check and the whole pytest suite"
	@echo "make test-unit / test-integration / test-e2e   one tier of the suite (tests/unit/, ...)"
	@echo "make compat  the wheel in clean environments with the oldest and newest supported Airflow 3"
	@echo "make fidelity  moto's AWS-verified tests against the local stack, compared with scripts/fidelity-expectations.toml"
	@echo "make demo    one-shot: start the stack, check it, stop it"
	@echo "make stop    stop a stack started by make run / devstack start"
	@echo "make status  show the stack's processes and health"
	@echo "make reset   delete the stopped stack's runs, tables and AWS state (.airflow/)"
	@echo "make lint    ruff check + ruff format --check;  make fmt: apply them"
	@echo "make docs    build the documentation site into site/ (warnings are errors)"
	@echo "make bench   DAG parse times and package import time"
	@echo "make bench-history  an upload run with an empty history vs 1,000,000 rows and 100,000 objects"
	@echo "make chaos   both pipelines at full scale under faults and kills (CHAOS_SCALE=0.1: a tenth), 3 runs"
	@echo "make install create .venv from uv.lock and install the Node.js AWS SDK"
	@echo "make test-prerequisites  Node.js, Chromium, Postgres, Redis for the tests (make test runs it)"

install: python-env $(NODE_SDK_STAMP)

# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on this machine) Python never caches
# bytecode, and every Airflow process would compile its imports again: 4 s instead of 1.4 s for
# `import airflow.sdk`, twice the DAG parse times. Compiling once at install costs ~18 s.
python-env:
	@command -v uv >/dev/null || python3 -m pip install --user --quiet "uv==$(UV_VERSION)" \
		|| python3 -m pip install --user --quiet --break-system-packages "uv==$(UV_VERSION)"
	uv sync --frozen --compile-bytecode

$(NODE_SDK_STAMP):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (Node.js Lambda handlers)"; exit 1; }
	rm -rf $(NODE_SDK_DIR)
	mkdir -p $(NODE_SDK_DIR)
	npm install --prefix $(NODE_SDK_DIR) --no-audit --no-fund --save-exact --loglevel=error $(NODE_SDK_PACKAGES)
	touch $@

# Node.js, Chromium, Postgres and Redis with the test role: installed and started when missing.
test-prerequisites:
	@bash scripts/test_prerequisites.sh

test: install test-prerequisites
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	site=$$(mktemp -d) && $(VENV)/bin/mkdocs build --strict --site-dir "$$site"; status=$$?; rm -rf "$$site"; exit $$status  # not --quiet: it hides the warnings strict counts
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25

# One tier of the suite: unit (pure code, seconds), integration (the local AWS stack), e2e (Airflow).
test-unit test-integration test-e2e: install test-prerequisites
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup tests/$(subst test-,,$@)

# The built wheel in clean environments with the oldest and the newest supported Airflow 3 and Amazon
# provider, running the operator tests there (make test runs the oldest end and some of them).
compat: install test-prerequisites
	LAMBDAPIPE_COMPAT_ENDS="oldest newest" LAMBDAPIPE_COMPAT_SCOPE=full $(VENV)/bin/pytest tests/e2e/test_compatibility.py

# moto's own aws_verified tests (and its server-mode Lambda tests) against `lambdapipe local`: every
# failure must be a known difference (make test runs it too: tests/e2e/test_fidelity.py).
fidelity: install
	$(PY) scripts/fidelity.py

lint: python-env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: python-env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: python-env
	$(VENV)/bin/mkdocs build --strict

run: install
	$(PY) scripts/devstack.py $(STACK_OPTIONS) up

demo: install
	$(PY) scripts/demo.py $(STACK_OPTIONS)

stop:
	@if [ -x $(PY) ]; then $(PY) scripts/devstack.py $(STACK_OPTIONS) stop; else echo "devstack: not running"; fi

status:
	@$(PY) scripts/devstack.py $(STACK_OPTIONS) status

# Delete .airflow/ (runs, tables catalog, local AWS state, logs) of a stopped stack: the next run starts afresh.
reset:
	@if [ -x $(PY) ]; then $(PY) scripts/devstack.py $(STACK_OPTIONS) reset; \
	elif [ -z "$(STACK_OPTIONS)" ]; then rm -rf .airflow; \
	else echo "make reset: STACK_OPTIONS needs scripts/devstack.py: run make install first"; exit 1; fi

bench: install
	$(PY) benchmarks/dag_parse.py

# benchmarks/history.py: an upload run of 100 new objects with an empty history and with 1,000,000
# rows and 100,000 processed objects (target: ratio <= 1.2). make test runs a small one.
bench-history: install
	$(PY) benchmarks/history.py

# benchmarks/chaos.py: a fault-free baseline, then faults and kills on LocalExecutor (fan-outs in the
# worker) and on Celery with two workers (fan-outs in the triggerer). Hours at full scale.
CHAOS_SCALE ?= 1
chaos: install test-prerequisites
	$(PY) benchmarks/chaos.py --scale $(CHAOS_SCALE) --calm
	$(PY) benchmarks/chaos.py --scale $(CHAOS_SCALE)
	$(PY) benchmarks/chaos.py --scale $(CHAOS_SCALE) --celery --deferrable
