# The two commands of the README, and the steps they are made of. Each target does its own
# set-up when needed (venv with torch, data, build), so both work on a fresh clone.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# torch-sys runs `python` from the active venv to find libtorch (see .cargo/config.toml).
export VIRTUAL_ENV := $(CURDIR)/.venv
export PATH := $(CURDIR)/.venv/bin:$(PATH)

CARGO ?= cargo

# The regression check: every suite's smoke preset runs into $(SMOKE)/results.csv, which is
# compared with the committed baseline. Extra `--set field=value` overrides for the
# classification, SR and detection smoke grids go in SMOKE_SET_CLASSIFY, SMOKE_SET_SR and
# SMOKE_SET_DETECT, e.g. to watch the check fail:
#   make regress SMOKE_SET_CLASSIFY='--set aux.glcan.use_global=false'
SMOKE := runs/smoke
BASELINE := baselines/smoke.csv
SMOKE_SET_CLASSIFY ?=
SMOKE_SET_SR ?=
SMOKE_SET_DETECT ?=

.PHONY: help setup data build test lint unit smoke regress baseline reproduce bench clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: ## create .venv with torch==2.13.0 (libtorch for tch); seconds when already done
	@scripts/setup-venv.sh

data: ## fetch the pinned real datasets into data/ (checksummed); seconds when already done
	@scripts/fetch-data.sh

build: setup ## build every crate (tests and benches too)
	$(CARGO) build --workspace --all-targets --release

test: lint unit ## formatting and lints, the whole test suite, benchmarks once each, then the regression check (what CI runs)
	@$(MAKE) --no-print-directory regress

lint: setup ## rustfmt (rustfmt.toml) and clippy (clippy.toml) on every crate: any finding fails
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings

unit: setup data ## unit, integration and doc tests; criterion benchmarks compile and run once each
	$(CARGO) test --workspace --release --all-targets
	$(CARGO) test --workspace --release --doc

# One line per suite, each appending its smoke preset's rows to $(SMOKE)/results.csv.
smoke: setup data ## run every suite's smoke preset into runs/smoke/ (from scratch)
	rm -rf $(SMOKE)
	$(CARGO) build --release -p bench-classify -p bench-sr -p bench-detect -p reports
	$(CARGO) run --release -q -p bench-classify -- grid --config configs/smoke.toml --out $(SMOKE) $(SMOKE_SET_CLASSIFY)
	$(CARGO) run --release -q -p bench-sr -- grid --config configs/sr-smoke.toml --out $(SMOKE) $(SMOKE_SET_SR)
	$(CARGO) run --release -q -p bench-detect -- grid --config configs/detect-smoke.toml --out $(SMOKE) $(SMOKE_SET_DETECT)

regress: smoke ## compare the smoke runs with baselines/smoke.csv: fails on a metric or memory regression
	$(CARGO) run --release -q -p reports -- compare --baseline $(BASELINE) --current $(SMOKE)/results.csv --out $(SMOKE)/compare

baseline: smoke ## rewrite baselines/smoke.csv from a fresh smoke run (after a change that is meant)
	cp $(SMOKE)/results.csv $(BASELINE)
	@echo "wrote $(BASELINE): review it (git diff) and commit it with the change that moved it"

# Each suite: train its preset, then time every configuration in one speed pass on the now
# idle machine (the only throughputs a report compares), then build the report, which keeps
# a copy of its sources (results, speed pass, run files) in reports/<preset>/source/.
reproduce: setup data ## the main job: the quick presets on real data (classification, SR, detection), a speed pass each, their tables and plots in reports/
	$(CARGO) build --release -p bench-classify -p bench-sr -p bench-detect -p reports
	$(CARGO) run --release -q -p bench-classify -- grid --config configs/quick.toml --out runs/quick
	$(CARGO) run --release -q -p bench-classify -- grid --config configs/quick.toml --out runs/quick --speed-pass
	$(CARGO) run --release -q -p reports -- build --results runs/quick --out reports/quick --command "make reproduce"
	$(CARGO) run --release -q -p bench-sr -- grid --config configs/sr-quick.toml --out runs/sr-quick
	$(CARGO) run --release -q -p bench-sr -- grid --config configs/sr-quick.toml --out runs/sr-quick --speed-pass
	$(CARGO) run --release -q -p reports -- build --results runs/sr-quick --out reports/sr-quick --command "make reproduce"
	$(CARGO) run --release -q -p bench-detect -- grid --config configs/detect-quick.toml --out runs/detect-quick
	$(CARGO) run --release -q -p reports -- build --results runs/detect-quick --out reports/detect-quick --command "make reproduce"

bench: setup data ## criterion benchmarks (loader throughput, ...)
	$(CARGO) bench --workspace

clean-data: ## remove the fetched data (make data fetches it again)
	rm -rf data
