# The two commands of the README, and the steps they are made of. Each target does its own
# set-up when needed (venv with torch, data, build), so both work on a fresh clone.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# torch-sys runs `python` from the active venv to find libtorch (see .cargo/config.toml).
export VIRTUAL_ENV := $(CURDIR)/.venv
export PATH := $(CURDIR)/.venv/bin:$(PATH)

CARGO ?= cargo

.PHONY: help setup data build test reproduce bench clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: ## create .venv with torch==2.13.0 (libtorch for tch); seconds when already done
	@scripts/setup-venv.sh

data: ## fetch the pinned real datasets into data/ (checksummed); seconds when already done
	@scripts/fetch-data.sh

build: setup ## build every crate (tests and benches too)
	$(CARGO) build --workspace --all-targets --release

test: setup data ## run the whole test suite, benchmarks once each (what CI runs)
	$(CARGO) test --workspace --release --all-targets
	$(CARGO) test --workspace --release --doc

reproduce: setup data ## the main job: the quick preset on real Fashion-MNIST, then its tables and plots in reports/quick/
	$(CARGO) build --release -p bench-classify -p reports
	$(CARGO) run --release -q -p bench-classify -- grid --config configs/quick.toml --out runs/quick
	$(CARGO) run --release -q -p reports -- build --results runs/quick/results.csv --out reports/quick --command "make reproduce"
	$(CARGO) run --release -q -p bench-detect -- grid --config configs/detect-quick.toml --out runs/detect-quick && $(CARGO) run --release -q -p reports -- build --results runs/detect-quick/results.csv --out reports/detect-quick --command "make reproduce"

bench: setup data ## criterion benchmarks (loader throughput, ...)
	$(CARGO) bench --workspace

clean-data: ## remove the fetched data (make data fetches it again)
	rm -rf data
