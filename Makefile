# On a fresh machine: `make demo`, `make ui` and `make test`. Only python3 is assumed.
SHELL := /bin/bash
PY ?= python3
# uv comes from PyPI into a private tools venv when it is not on PATH.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
PYTEST_ARGS ?=
BENCH_ARGS ?=
UI_PORT ?= 8080
UI_ARGS ?=

.PHONY: demo ui test e2e-distributed bootstrap sync postgres schemas lint format bench wheel clean

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet uv

bootstrap: $(UV)

## The development install: the runtime package (editable) + the sandbox workspace member + dev tools.
sync: bootstrap
	$(UV) sync --frozen

## The main job on the embedded default (sandbox on loopback, SQLite store, Airflow on SQLite).
demo: sync
	$(RUN) siapp-siasn demo

## Airflow's UI on the embedded default until Ctrl-C: the sandbox, a SQLite store, Airflow
## (api-server, scheduler, dag-processor, triggerer; metadata on SQLite under .airflow/) with the
## hub's connections and DAGs, on http://127.0.0.1:$(UI_PORT); prints the login. Options:
## make ui UI_PORT=8090 UI_ARGS="--fresh --employees 5000" (UI_ARGS="--help" for all).
ui: sync
	$(RUN) siapp-siasn ui --port $(UI_PORT) $(UI_ARGS)

## Install everything (PostgreSQL server binaries included) and run the whole suite.
test: sync postgres
	$(RUN) pytest $(PYTEST_ARGS)

## The compose topology as local processes (no Docker engine needed): Redis and PostgreSQL
## (Debian packages, installed when missing), api-server, scheduler, dag-processor, triggerer and
## two Celery workers with deploy/airflow.env; scheduled and REST-triggered runs, a worker killed
## mid-task, the store checked against the sandbox's truth. Everything started is stopped.
e2e-distributed: sync postgres
	$(RUN) pytest tests/distributed -m distributed $(PYTEST_ARGS)

## Debian's PostgreSQL server binaries for the integration tests (pytest starts the server).
postgres:
	@bash scripts/ensure-postgres.sh

schemas: sync
	$(RUN) python -m siapp_siasn.models.schemas

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: sync
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

## Peers side by side (ours, ours under Airflow, dlt, naive HttpHook) on one sandbox, DAG parse
## time, PostgreSQL upsert; results in bench/results/. Options: make bench BENCH_ARGS="--help".
bench: bootstrap postgres
	$(UV) sync --frozen --group bench
	$(RUN) --group bench siapp-siasn bench $(BENCH_ARGS)

## What an Airflow deployment installs: the runtime wheel (siapp_siasn only) and the versions of
## its dependencies pinned by uv.lock, as pip constraints:
##   pip install dist/siapp_siasn-*.whl -c dist/constraints.txt
wheel: bootstrap
	$(UV) build --wheel --out-dir dist
	$(UV) export --frozen --no-dev --no-emit-workspace --no-hashes --output-file dist/constraints.txt

clean:
	rm -rf .demo .airflow .pytest_cache .ruff_cache dist
