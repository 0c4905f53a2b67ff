# Two commands: `make repro` runs the pipeline, `make test` runs the linter, then the tests.
# Both set up .venv by themselves (only when pyproject.toml or scripts/setup.sh changed).
VENV ?= .venv
STAMP := $(VENV)/.fcsynth-installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=

.PHONY: setup repro lint test test-fast params deps bench clean-checkpoints

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

repro: setup
	dvc repro

lint: setup
	ruff check .

test: lint
	python -m pytest $(PYTEST_ARGS)

test-fast: lint
	python -m pytest -m "not slow" $(PYTEST_ARGS)

params: setup
	python -m fcsynth.cli params

deps: setup
	python scripts/dvc_deps.py

bench: setup
	python benchmarks/grammar_build.py
	python benchmarks/decode_throughput.py
	python benchmarks/cpu_engine.py
	python benchmarks/train_step.py
	python benchmarks/catalog_import.py
	python benchmarks/simulation.py

clean-checkpoints:
	rm -rf data/checkpoints
