# Two commands for a fresh machine with Python 3.11, pip and make:
#   make demo   installs and runs the whole loop on the examples against the embedded sandbox
#   make test   installs and runs ruff, mypy, the docs build and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install install-dev install-bench lock lint typecheck docs pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every dependency from a lock with sha256 hashes (requirements/*.lock, written by `make
# lock` from pyproject.toml), as wheels only; then this project itself, without the
# network. pip check names a dependency that pyproject.toml declares and the lock lacks.
PIP_INSTALL = $(BIN)/python -I -m pip install --quiet --disable-pip-version-check
LOCKED      = $(PIP_INSTALL) --require-hashes --no-deps --only-binary=:all: -r
SELF        = $(PIP_INSTALL) --no-deps --no-build-isolation -e .

install: $(BIN)/python
	$(LOCKED) requirements/runtime.lock
	$(SELF)
	$(BIN)/python -I -m pip check

install-dev: $(BIN)/python
	$(LOCKED) requirements/dev.lock
	$(SELF)
	$(BIN)/python -I -m pip check

# The dev tools and what the benchmarks compare against (octoDNS: benchmarks/README.md).
install-bench: $(BIN)/python
	$(LOCKED) requirements/bench.lock
	$(SELF)
	$(BIN)/python -I -m pip check

# Writes the locks from pyproject.toml: pins already in a lock are kept, what is new is
# added (`make lock LOCK=--upgrade` moves everything to the newest versions allowed). Needs
# PyPI; the local pip configuration is ignored so that the hashes are PyPI's own. The
# pip-compile command is recorded at the top of each lock.
LOCK       ?=
PIP_COMPILE = env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(BIN)/pip-compile --quiet \
	--strip-extras --generate-hashes --allow-unsafe --all-build-deps --no-emit-index-url $(LOCK)

# The benchmarks' lock starts from the dev lock, so that both pin the same versions.
lock: $(BIN)/python
	$(LOCKED) requirements/dev.lock
	$(PIP_COMPILE) --output-file requirements/runtime.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --output-file requirements/dev.lock pyproject.toml
	test -f requirements/bench.lock || cp requirements/dev.lock requirements/bench.lock
	$(PIP_COMPILE) --extra dev --extra bench --output-file requirements/bench.lock pyproject.toml

demo: install
	bash scripts/demo.sh $(BIN)

lint: install-dev
	$(BIN)/ruff format --check t4o_reconcile tests benchmarks scripts
	$(BIN)/ruff check t4o_reconcile tests benchmarks scripts

typecheck: install-dev
	$(BIN)/mypy

# The docs site, built strictly (a broken link or anchor fails), and the generated command
# reference checked against the CLI.
docs: install-dev
	$(BIN)/python scripts/cli_reference.py --check
	$(BIN)/mkdocs build --strict --quiet

# Branch coverage of the package, measured in-process (the e2e tests' CLI and sandbox
# processes are not counted). Reached: 89.76 %; the floor leaves the property tests'
# random examples a little room.
COVERAGE_FLOOR ?= 89.5

pytest: install-dev
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

test: lint typecheck docs pytest

clean:
	rm -rf $(VENV) .t4o
