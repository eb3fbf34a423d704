# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= prod
PKG_DIR ?= build/package

.PHONY: run test lint typecheck unit package package-check templates-check bench clean

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

unit: $(STAMP)
	$(BIN)/pytest -q

package: $(STAMP)
	rm -rf $(PKG_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) $(PKG_DIR)

package-check: package
	$(BIN)/cfn-lint $(PKG_DIR)/sam.json

test: lint typecheck templates-check unit package-check

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf build .data .mypy_cache .ruff_cache .pytest_cache
