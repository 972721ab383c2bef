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

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Headless Chromium for the browser test of the MLflow UI: Debian's package, driven by Playwright.
CHROMIUM := /usr/bin/chromium
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

$(AIRFLOW_STAMP): tests/requirements/airflow.txt
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tests/requirements/airflow.txt
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
test: setup $(AIRFLOW_STAMP) $(CHROMIUM) lint typecheck ## Set up, then lint, type-check and run the whole test suite
	scripts/test-services.sh up
	$(BIN)/pytest -n 2 --dist loadfile; status=$$?; scripts/test-services.sh down; exit $$status

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

bench: setup $(EVIDENTLY_STAMP) ## Every benchmark, full size (~35 min, ~17 GB free RAM): benchmarks/results/
	$(BIN)/python -m benchmarks.offline_store
	$(BIN)/python -m benchmarks.drift
	$(BIN)/python -m benchmarks.pipeline --pipeline credit_risk
	$(BIN)/python -m benchmarks.recommender
	@# the online path serves the project's champion: train one first if there is none
	@$(BIN)/modelworks lineage credit_risk@champion >/dev/null 2>&1 || $(BIN)/kedro run --pipelines credit_risk
	$(BIN)/python -m benchmarks.online --model credit_risk
	$(BIN)/python -m benchmarks.search
	$(BIN)/python -m benchmarks.dask_fits
	$(BIN)/python -m benchmarks.dask_scale --rows 10000000

bench-quick: setup ## The same benchmarks at small sizes, without Evidently (a few minutes)
	$(BIN)/python -m benchmarks.offline_store --sizes small
	$(BIN)/python -m benchmarks.drift --rows 100000 --no-evidently
	$(BIN)/python -m benchmarks.dask_scale --rows 1000000

clean: ## Remove generated data, runs and the virtual environment
	rm -rf $(VENV) $(AIRFLOW_VENV) mlruns/* data/0*/*/ data/.locks logs
