# One venv for everything. torch is pinned first: an unpinned torch pulls a multi-GB CUDA build.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
STAMP   := $(VENV)/.installed
NODE    := site/node_modules/.installed

.PHONY: venv demo lessons site test lint format bench bench-targets clean

QUICK ?=

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,site]'
	touch $(STAMP)

# KaTeX for the site's math, pinned by site/package-lock.json (npm registry, never a CDN)
$(NODE): site/package.json site/package-lock.json
	cd site && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE)

lessons: site   ## build the course site and serve it on 127.0.0.1 (prints the URL)
	$(BIN)/python site/serve.py

site: venv $(NODE)   ## build the course site -> site/_build/ (fails on a bad lesson reference)
	$(BIN)/python site/build.py

demo: venv   ## train the four models on two moons -> demo_out/ (figure + table)
	$(BIN)/generative demo --out demo_out

test: venv $(NODE)   ## lint, format check, the test suite (claims lab at quick budgets, site in Chromium)
	$(BIN)/ruff check generative tests benchmarks site
	$(BIN)/ruff format --check generative tests benchmarks site
	$(BIN)/pytest

bench: venv   ## the claims lab from scratch -> benchmarks/results/ (QUICK=1: pipeline check only)
	$(BIN)/python -m benchmarks.run_all $(if $(QUICK),--quick,)

format: venv
	$(BIN)/ruff format generative tests benchmarks site
	$(BIN)/ruff check --fix generative tests benchmarks site

bench-targets: venv   ## the issue-2 targets on moons (3 training seeds x 5 eval seeds)
	$(BIN)/python -m benchmarks.part_a_targets

clean:
	rm -rf $(VENV) demo_out runs site/node_modules site/_build site/_artifacts
