# Every target creates .venv and installs the project itself: nothing is needed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENV)/.installed-%: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

demo: $(STAMP)
	$(BIN)/smimecore demo

lint: $(STAMP)
	$(BIN)/ruff check smimecore tests benchmarks examples docs/hooks
	$(BIN)/ruff format --check smimecore tests benchmarks examples docs/hooks
	$(BIN)/mypy --strict smimecore examples

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py

# The documentation site, into site/ (fails on any broken link, reference or undocumented name).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# sdist and wheel, into dist/ (the wheel is built from the sdist).
dist: $(VENV)/.installed-dist
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .

clean:
	rm -rf $(VENV) build dist site *.egg-info .mypy_cache .pytest_cache .ruff_cache
