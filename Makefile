# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= prod
PKG_DIR ?= build/package
MERGE_TEMPLATE ?= resources/dynamodb-table.json

.PHONY: run test lint typecheck unit package package-check templates-check openapi bench clean browser-deps e2e load contract

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m devtools.run_local

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

templates-check: $(STAMP)
	$(BIN)/python scripts/check_templates.py

# docs/openapi.json, generated from the routes and models; `make unit` fails while it is stale.
openapi: $(STAMP)
	$(BIN)/python -c 'from pathlib import Path; from app import app; from chalicelib.openapi import write; \
	print("docs/openapi.json", "written" if write(app.routes, Path("docs/openapi.json")) else "unchanged")'

unit: $(STAMP)
	$(BIN)/pytest -q

# `chalice package` with resources/dynamodb-table.json merged in: the stage's table comes with the stack.
package: $(STAMP)
	rm -rf $(PKG_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template $(MERGE_TEMPLATE) $(PKG_DIR)

package-check: package
	$(BIN)/cfn-lint $(PKG_DIR)/sam.json

test: lint typecheck templates-check browser-deps unit package-check

# Chromium for tests/browser (Playwright drives Debian's package; `playwright install` is never used).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "browser tests need /usr/bin/chromium: run 'sudo apt-get install -y chromium' (they skip without it, fail under CI)"; \
	fi

# Only the end-to-end (simulator + chalice local) and browser suites; `make unit` runs them too.
e2e: $(STAMP) browser-deps
	$(BIN)/pytest -q -m "e2e or browser" tests/e2e tests/browser

# The full-size webhook load tests (5,000 deliveries through `chalice local` + SQLite, 1,000 on
# DynamoDB/moto); `make unit` runs smaller versions. Figures: build/load-report.txt.
load: $(STAMP)
	$(BIN)/pytest -q -s -m load tests/load

# The contract tier against the real Evolution API 2.3.7 (../shared/evolution/real, or EVOLUTION_REAL_KIT):
# client, service and the simulator's differential test. Skips without the kit, fails without it under CI=true.
contract: $(STAMP)
	@kit="$${EVOLUTION_REAL_KIT:-../shared/evolution/real}"; \
	if [ ! -f "$$kit/start.sh" ]; then \
		if [ "$${CI:-}" = true ]; then echo "contract: no real Evolution kit at $$kit (CI=true needs it)"; exit 1; fi; \
		echo "contract: skipped, no real Evolution kit at $$kit"; exit 0; \
	fi; \
	EVOLUTION_REAL_KIT="$$kit" $(BIN)/pytest -q -m contract tests/contract

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf build .data .mypy_cache .ruff_cache .pytest_cache
