# Một Cửa — the commands a developer, an operator and CI run. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup run infra infra-down infra-status browser k8s-tools load-tools k8s-render test test-unit bench bench-lookup bench-search asyncapi load clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

setup: ## Install uv (from PyPI) if missing, then the locked dependencies into .venv
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --user uv || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: setup ## Run the whole platform in one process (embedded mode: SQLite, in-process bus), seeded with demo data
	$(UV) run --frozen python -m motcua.embedded

infra: ## Install (once) and start Kafka, FerretDB (on PostgreSQL) and Redis on loopback
	@deploy/local/infra.sh up

infra-down: ## Stop the local servers
	@deploy/local/infra.sh down

infra-status: ## Show whether the local servers answer
	@deploy/local/infra.sh status

browser: ## Install (once) the Chromium the browser tests drive (Debian package, through apt)
	@deploy/local/browser.sh

k8s-tools: ## Make sure kustomize can render deploy/k8s (kubectl kustomize, or kustomize built once from the Go proxy)
	@deploy/k8s/render.sh --tool >/dev/null

k8s-render: k8s-tools ## Render a Kubernetes overlay (OVERLAY=dev|prod, default prod)
	@deploy/k8s/render.sh deploy/k8s/overlays/$${OVERLAY:-prod}

test: setup infra browser k8s-tools ## Run every test: unit, adapter contracts on real servers, services, end-to-end (no skips allowed)
	MOTCUA_FORBID_SKIPS=1 $(UV) run --frozen pytest $(PYTEST_ARGS)

test-unit: setup ## Only the tests that need no server (fast)
	$(UV) run --frozen pytest -m "not integration and not e2e" $(PYTEST_ARGS)

load-tools: ## Install (once) wrk, the C load generator make bench drives the lookups with (Debian package; without it, Python clients)
	@command -v wrk >/dev/null 2>&1 || { mkdir -p /tmp/motcua-infra/logs; \
	  { apt-get install -y --no-install-recommends wrk || { apt-get update && apt-get install -y --no-install-recommends wrk; }; } \
	    >/tmp/motcua-infra/logs/apt-wrk.log 2>&1 || echo "wrk could not be installed (log: /tmp/motcua-infra/logs/apt-wrk.log): the benchmarks use Python clients"; }

bench: setup infra load-tools ## The performance targets in one run on the local distributed stack: a table (and var/bench/bench.json)
	$(UV) run --frozen python loadtests/bench.py $(BENCH_ARGS)

bench-lookup: setup infra load-tools ## The status lookup alone: req/s, p50/p99 at 50 connections, direct and through the gateway
	$(UV) run --frozen python loadtests/bench_lookup.py

bench-search: setup ## Catalogue search over 2,000 procedures: p50/p95/p99 through HTTP and in the index
	$(UV) run --frozen python loadtests/bench_search.py

asyncapi: setup ## Regenerate the AsyncAPI document from the event contracts
	$(UV) run --frozen motcua-asyncapi > libs/contracts/asyncapi.json

load: setup ## Locust headless against HOST=<gateway URL>, or (no HOST) the local distributed stack seeded with SEED=10000 dossiers (USERS=20 RATE=5 DURATION=30s; MOTCUA_LOAD_* set the mix, see loadtests/README.md)
	$(UV) run --frozen python loadtests/run_load.py

clean: ## Remove local data of the embedded mode and caches
	rm -rf var .pytest_cache
