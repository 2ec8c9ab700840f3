#!/usr/bin/env bash
# Compares training recipes of configs/detect-quick.toml on held-out *training* canvases
# (never the test set): the last 300 of its 3000 training canvases are the validation set,
# 2700 train. Each recipe runs E2E, DGL and GLCAN at K = 2 and 3 under its own preset name
# and results folder in runs/detect-batch-size/:
#   b32-e6  the preset's former recipe: batch 32, 6 epochs (504 steps on the 2700 canvases)
#   b16-e6  batch 16, 6 epochs (1008 steps)
#   b16-e5  batch 16, 5 epochs (840 steps): the preset now, the most that fits 15 minutes
# Usage: scripts/detect-batch-size.sh [recipe ...] (default: all three); SEEDS='[0,1]' for
# more seeds, METHODS='["e2e","glcan"]' for fewer methods.
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/detect-batch-size
bin=target/release/bench-detect
[[ -n "${CARGO_TARGET_DIR:-}" ]] && bin="$CARGO_TARGET_DIR/release/bench-detect"
common=(--config configs/detect-quick.toml --set validation=300 --set "seeds=${SEEDS:-[0]}" --set "methods=${METHODS:-[\"e2e\",\"dgl\",\"glcan\"]}")

recipe() { # name -> overrides
  case $1 in
    b32-e6) echo --set batch_size=32 --set epochs=6 ;;
    b16-e6) echo --set batch_size=16 --set epochs=6 ;;
    b16-e5) echo --set batch_size=16 --set epochs=5 ;;
    *) echo "unknown recipe $1 (b32-e6, b16-e6, b16-e5)" >&2; return 1 ;;
  esac
}

# shellcheck disable=SC2206 # recipe names are single words
names=(${*:-b32-e6 b16-e6 b16-e5})
for name in "${names[@]}"; do
  overrides=$(recipe "$name")
  echo "== $name" >&2
  # shellcheck disable=SC2086 # the overrides are words without spaces
  "$bin" grid "${common[@]}" --set "preset=\"val-$name\"" $overrides --out "$out/$name"
done
for name in "${names[@]}"; do
  awk -F, -v n="$name" -f scripts/detect-validation-rows.awk "$out/$name/results.csv"
done
