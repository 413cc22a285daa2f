# Two commands for a fresh machine with Python 3.11, pip and make:
#   make demo   installs and runs the whole loop on the examples against the embedded sandbox
#   make test   installs and runs ruff, mypy and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install install-dev lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install
	bash scripts/demo.sh $(BIN)

lint: install-dev
	$(BIN)/ruff format --check t4o_reconcile tests benchmarks
	$(BIN)/ruff check t4o_reconcile tests benchmarks

typecheck: install-dev
	$(BIN)/mypy

# Branch coverage of the package, measured in-process (the e2e tests' CLI and sandbox
# processes are not counted). Reached: 89.76 %; the floor leaves the property tests'
# random examples a little room.
COVERAGE_FLOOR ?= 89.5

pytest: install-dev
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .t4o
