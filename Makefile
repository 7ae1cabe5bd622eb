# Every target creates .venv and installs the project itself: nothing is needed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

FUZZ_SECONDS ?= 60

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smimecore demo

lint: $(STAMP)
	$(BIN)/ruff check smimecore tests benchmarks
	$(BIN)/ruff format --check smimecore tests benchmarks
	$(BIN)/mypy --strict smimecore

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py

# Each fuzz target for FUZZ_SECONDS (default 60); findings go to .fuzz/TARGET/findings/.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	for target in $$($(BIN)/python -m tests.fuzz.run list); do \
		$(BIN)/python -m tests.fuzz.run fuzz $$target --seconds $(FUZZ_SECONDS) || exit 1; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache .fuzz
