# Every target creates .venv and installs the project itself: nothing is needed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-compare docs dist fuzz clean

FUZZ_SECONDS ?= 60

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

# Another checkout's operations beside this one's, in the same run against the binary:
# make bench-compare BASELINE=../old-checkout (see benchmarks/compare.py).
bench-compare: $(STAMP)
	$(BIN)/python benchmarks/compare.py $(BASELINE)

# The documentation site, into site/ (fails on any broken link, reference or undocumented name).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# sdist and wheel, into dist/ (the wheel is built from the sdist).
dist: $(VENV)/.installed-dist
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .

# Each fuzz target for FUZZ_SECONDS (default 60); findings go to .fuzz/TARGET/findings/.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	for target in $$($(BIN)/python -m tests.fuzz.run list); do \
		$(BIN)/python -m tests.fuzz.run fuzz $$target --seconds $(FUZZ_SECONDS) || exit 1; \
	done

clean:
	rm -rf $(VENV) build dist site *.egg-info .mypy_cache .pytest_cache .ruff_cache .fuzz
