# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
STAGE ?= prod
PKG_DIR ?= build/package
MERGE_TEMPLATE ?= resources/dynamodb-table.json

.PHONY: run test lint typecheck unit suite fuzz package package-check templates-check openapi bench clean \
	browser-deps e2e load contract install install-run

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# `make run` installs only what running needs (requirements-run.txt), with the pip the venv came
# with and without byte-compiling every file (Python compiles what it imports, once); every other
# target adds the test tools (requirements-dev.txt) with an up-to-date pip.
$(RUN_STAMP): $(BIN)/python requirements.txt requirements-run.txt
	$(BIN)/pip install --quiet --no-compile -r requirements-run.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install-run: $(RUN_STAMP)

install: $(STAMP)

# Checks every setting and both ports before starting anything; stops both processes on Ctrl-C or SIGTERM.
run: $(RUN_STAMP)
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

# The fast, in-process tests: no local servers, browser, fuzzing or load runs (those are `make e2e`,
# `make fuzz` and `make load`; `make suite` runs every pytest suite at once, as `make test` does).
SLOW_DIRS := --ignore=tests/fuzz --ignore=tests/load
unit: $(STAMP)
	$(BIN)/pytest -q -m "not e2e and not browser and not contract" $(SLOW_DIRS)

suite: $(STAMP)
	$(BIN)/pytest -q

# schemathesis against a real `chalice local` (over 1,000 generated requests) and the recipient properties.
fuzz: $(STAMP)
	$(BIN)/pytest -q tests/fuzz

# `chalice package` with resources/dynamodb-table.json merged in: the stage's table comes with the stack.
# Then bytecode for the runtime's Python into deployment.zip (and chalice's cached copy, which
# `chalice deploy` reuses): Lambda's /var/task is read-only, so without it every cold start compiles.
package: $(STAMP)
	rm -rf $(PKG_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template $(MERGE_TEMPLATE) $(PKG_DIR)
	$(BIN)/python scripts/compile_package.py $(PKG_DIR) --chalice-cache .

package-check: package
	$(BIN)/cfn-lint $(PKG_DIR)/sam.json

test: lint typecheck templates-check browser-deps suite package-check

# Chromium for tests/browser (Playwright drives Debian's package; `playwright install` is never used).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "browser tests need /usr/bin/chromium: run 'sudo apt-get install -y chromium' (they skip without it, fail under CI)"; \
	fi

# The end-to-end tests over real local processes (simulator + chalice local, `make run`'s runner,
# the README walk-through) and the browser suite.
e2e: $(STAMP) browser-deps
	$(BIN)/pytest -q -m "(e2e or browser) and not contract" $(SLOW_DIRS)

# The full-size webhook load tests (5,000 deliveries through `chalice local` + SQLite, 1,000 on
# DynamoDB/moto); `make suite` runs smaller versions. Figures: build/load-report.txt.
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
