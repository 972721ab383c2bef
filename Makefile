# modelworks: `make run` and `make test` do all set-up themselves; `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Apache Airflow, only to check that the exported DAG imports; it cannot share .venv's pins.
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
PYTHON ?= python3.11

# Kedro's telemetry calls the network; modelworks never sends it.
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
# DVC stages call `kedro`; they find the project's own.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup run test lint format typecheck repro dvc-stages ui bench bench-quick clean prod-up prod-down prod-run

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv installs the same pinned set as pip in a tenth of the time. It reads none of pip's
# configuration, so the find-links, indexes and constraints pip is configured with are passed
# to it; without uv (the lock's pin cannot be installed) pip installs instead.
PIP := pip install --quiet --disable-pip-version-check --no-deps
UV_PIN = $(shell grep -E '^uv==' requirements.lock)
UV_SOURCES = $$($(BIN)/pip config list 2>/dev/null | \
	sed -nE "s/^[^.]*\.(find-links|extra-index-url|index-url|constraint)='(.*)'$$/\1 \2/p" | \
	while read -r key values; do for value in $$values; do \
		printf -- '--%s %s ' "$${key/constraint/constraints}" "$$value"; done; done)
# $(call install,VENV,REQUIREMENTS): into VENV's interpreter, by .venv's uv, else by VENV's pip
install = { $(BIN)/uv pip install --quiet --no-deps --python $(1)/bin/python \
	--index-strategy unsafe-best-match $(UV_SOURCES) $(2) || $(1)/bin/$(PIP) $(2); }

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/$(PIP) $(UV_PIN) || echo "no $(UV_PIN): pip installs instead"
	$(call install,$(VENV),-r requirements.lock)
	$(call install,$(VENV),-e .)
	@touch $@

# Headless Chromium for the browser test of the MLflow UI: Debian's package, driven by Playwright.
CHROMIUM := /usr/bin/chromium
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

$(AIRFLOW_STAMP): tests/requirements/airflow.txt | $(STAMP)
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(call install,$(AIRFLOW_VENV),-r tests/requirements/airflow.txt)
	@touch $@

setup: $(STAMP) ## Create .venv with the pinned versions (skipped when nothing changed)

# `kedro run` writes the ingest and train stages' outputs outside `dvc repro`, so nothing would
# record them in dvc.lock and `dvc status` would call every stage changed. `dvc commit` records
# the deps and outs now in the workspace, the ones this run used and wrote (and caches the outs,
# so `modelworks reproduce` finds these raw files by hash later): dvc.lock then describes the
# data actually present. It is not committed to git, since no remote holds that data.
run: setup ## Set up, then run every use case on embedded defaults (kedro run); dvc.lock records it
	$(BIN)/kedro run
	$(BIN)/dvc commit --force --quiet

# The production-profile tests talk to PostgreSQL and Redis on loopback: whichever does not
# answer is started for the run (and stopped after it); each test starts its own MLflow server.
# Two workers, each on its own share of the cores; tests/conftest.py keeps a module's shared
# fixtures on one worker (xdist groups) and puts the longest modules first, as workers take them.
test: setup $(AIRFLOW_STAMP) $(CHROMIUM) lint typecheck ## Set up, then lint, type-check and run the whole test suite
	scripts/test-services.sh up
	$(BIN)/pytest -n 2 --dist loadgroup --no-loadscope-reorder; status=$$?; \
		scripts/test-services.sh down; exit $$status

lint: setup ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup ## mypy on the framework
	$(BIN)/mypy

repro: setup ## Reproduce the DVC stages (dvc repro) and show that nothing is stale
	$(BIN)/dvc repro
	$(BIN)/dvc status

dvc-stages: setup ## Regenerate dvc.yaml: ingest and train stages for every use case
	$(BIN)/modelworks dvc-stages

ui: setup ## Open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --port 5000

# The production profile (conf/prod): PostgreSQL and Redis are checked, the MLflow tracking
# server is started. Without conf/local/credentials.yml, this machine's loopback servers are
# used (conf/prod/loopback.yml); exported variables win over the file.
LOCAL_CREDENTIALS := conf/local/credentials.yml
prod-up: setup ## Production profile: check PostgreSQL and Redis, create databases, start the MLflow server
	@test -f $(LOCAL_CREDENTIALS) || { cp conf/prod/loopback.yml $(LOCAL_CREDENTIALS) && \
		echo "wrote $(LOCAL_CREDENTIALS) from conf/prod/loopback.yml (this machine's servers)"; }
	$(BIN)/modelworks --env prod servers up

prod-down: ## Stop what prod-up started
	$(BIN)/modelworks servers down

prod-run: prod-up ## Run every use case on the production profile's servers
	$(BIN)/kedro run --env prod

EVIDENTLY_VENV  := benchmarks/.venv-evidently
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed

$(EVIDENTLY_STAMP): benchmarks/requirements-evidently.txt
	@test -x $(EVIDENTLY_VENV)/bin/python || $(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/pip install --quiet --disable-pip-version-check -r benchmarks/requirements-evidently.txt
	@touch $@

# wrk, a C load generator (Debian's package), drives the online server under load: locust, in
# Python, took one of the two cores the server needs.
WRK := /usr/bin/wrk
$(WRK):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk)

# Each benchmark writes benchmarks/results/<name>.json with its targets; the README's table is
# generated from them last. test_suite clones HEAD and times a fresh `make test`.
bench: setup $(EVIDENTLY_STAMP) $(WRK) ## Every benchmark, full size (~2 h, ~17 GB free RAM, 10 GB of /tmp): benchmarks/results/, README table
	$(BIN)/python -m benchmarks.pipeline_overhead
	$(BIN)/python -m benchmarks.offline_store --sizes full,large
	$(BIN)/python -m benchmarks.drift --rows 1000000 --repeats 3
	$(BIN)/python -m benchmarks.drift_stream --rows 10000000
	@# the online path serves the project's champion: train one first if there is none
	@$(BIN)/modelworks lineage credit_risk@champion >/dev/null 2>&1 || $(BIN)/kedro run --pipelines credit_risk
	$(BIN)/python -m benchmarks.online --model credit_risk
	$(BIN)/python -m benchmarks.serve_load
	$(BIN)/python -m benchmarks.pipeline --pipeline credit_risk
	$(BIN)/python -m benchmarks.recommender
	$(BIN)/python -m benchmarks.search
	$(BIN)/python -m benchmarks.dask_fits
	$(BIN)/python -m benchmarks.dask_scale --rows 10000000
	$(BIN)/python -m benchmarks.test_suite
	$(BIN)/python -m benchmarks.report

bench-quick: setup $(WRK) ## The targeted benchmarks at small sizes, without Evidently (a few minutes)
	$(BIN)/python -m benchmarks.offline_store --sizes small
	$(BIN)/python -m benchmarks.drift --rows 100000 --repeats 1 --no-evidently
	$(BIN)/python -m benchmarks.drift_stream --rows 1000000 --check-rows 100000
	$(BIN)/python -m benchmarks.serve_load --seconds 5
	$(BIN)/python -m benchmarks.dask_scale --rows 1000000
	$(BIN)/python -m benchmarks.report

clean: ## Remove generated data, runs and the virtual environment
	rm -rf $(VENV) $(AIRFLOW_VENV) mlruns/* data/0*/*/ data/.locks logs
