# noxportal — `make help` lists the targets.
SHELL := /bin/bash
export NOX_PG_PORT ?= 54329
PG := ./scripts/pg.sh
BIN := bin/noxportal
GO ?= go

.DEFAULT_GOAL := help

help: ## List the targets
	@if [ -t 1 ]; then on=$$'\033[36m' off=$$'\033[0m'; else on= off=; fi; \
	grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sed 's/$$(NOX_PG_PORT)/$(NOX_PG_PORT)/g' | \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-13s%s %s\n", on, $$1, off, $$2}'

build: ## Build bin/noxportal
	@[ -x $(BIN) ] || echo "Building $(BIN): the first build downloads and compiles the Go modules (about a minute)..."
	$(GO) build -trimpath -o $(BIN) .

run: build ## Serve on http://127.0.0.1:8080 (starts a local Postgres unless NOX_DATABASE_URL is set)
	@addr=$${NOX_SERVER_ADDR:-127.0.0.1:8080}; host=$${addr%:*}; \
	if (exec 3<>/dev/tcp/$${host:-127.0.0.1}/$${addr##*:}) 2>/dev/null; then \
		echo "make run: $$addr is already in use (is noxportal running in another terminal?); stop it or set NOX_SERVER_ADDR" >&2; exit 1; \
	fi
	@if [ -z "$$NOX_DATABASE_URL" ]; then \
		$(PG) up >/dev/null && \
		psql "$$($(PG) url)" -qtAc "SELECT 1 FROM pg_database WHERE datname = 'noxportal'" | grep -q 1 || \
		psql "$$($(PG) url)" -qc "CREATE DATABASE noxportal"; \
		export NOX_DATABASE_URL="postgres://postgres@127.0.0.1:$(NOX_PG_PORT)/noxportal?sslmode=disable"; \
	fi; exec ./$(BIN)

test: ## Run every test (unit, integration on real Postgres, browser) against a local Postgres
	@$(PG) up >/dev/null
	NOX_TEST_DATABASE_URL="$$($(PG) url)" $(GO) test -race -count=1 -timeout 30m ./...

screenshots: ## Refresh the screenshots in docs/ from the Chromium tests that take them
	@$(PG) up >/dev/null
	./scripts/screenshots.sh

FUZZTIME ?= 30s
fuzz: ## Run every fuzz test for FUZZTIME each (default 30s; seeds also run in `make test`)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench-cluster: build ## Benchmark the fleet through HAProxy: 1 vs 3 instances, replica vs primary (writes bench/cluster-results.md)
	./bench/cluster.sh

test-cluster: ## Fleet tests: flows across 3 instances, kill -9 under load, replica down and back (needs haproxy)
	NOX_TEST_CLUSTER=1 $(GO) test -count=1 -timeout 20m -v ./cluster/

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l . | tee /dev/stderr)"
	$(GO) vet ./...

bench: build ## Benchmark against the machine's own ceilings (writes bench/results.md)
	./bench/run.sh

cluster: build ## Start a local fleet: primary + replica, 3 instances, HAProxy on :8080 (see docs/scaling.md)
	@./scripts/cluster.sh up

cluster-down: ## Stop the local fleet (data in .cluster/ is kept)
	@./scripts/cluster.sh down

db-up: ## Start the project-local Postgres (.pgdata/, port $(NOX_PG_PORT))
	@$(PG) up

db-down: ## Stop the project-local Postgres
	@$(PG) down

db-reset: db-down ## Delete the local Postgres data
	rm -rf .pgdata

.PHONY: help build run test screenshots fuzz lint bench db-up db-down db-reset cluster cluster-down test-cluster bench-cluster
