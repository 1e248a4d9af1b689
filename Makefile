# The two fresh-machine commands are `make demo` and `make test` (README). Both create .venv on first use.
VENV ?= .venv
# Two pytest workers (pytest-xdist): the daemon tests on one, everything else beside them on the other.
PYTEST_WORKERS ?= 2
PYTHON ?= python3
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install demo test lint dev
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/cms-assets demo $(ARGS)

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(ARGS)

dev: $(BIN)/.installed
	$(BIN)/cms-assets dev $(ARGS)
