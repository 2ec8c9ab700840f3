#!/usr/bin/env bash
# Compares GLCAN aux-net options for detection on held-out *training* canvases (never the
# test set), in the setting of configs/detect-quick.toml: the last 300 of its 3000 training
# canvases are the validation set, 2700 train. E2E and DGL run once as references. Each
# option gets its own preset name and results folder under runs/detect-glcan-options/.
# Usage: scripts/detect-glcan-options.sh [K ...] (default: 2 3); SEEDS='[0,1]' for more seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
ks="${*:-2 3}"
ks_toml="[$(echo "$ks" | tr ' ' ',')]"
out=runs/detect-glcan-options
bin=target/release/bench-detect
[[ -n "${CARGO_TARGET_DIR:-}" ]] && bin="$CARGO_TARGET_DIR/release/bench-detect"
# Batch 32 for 6 epochs: the preset's recipe when these options were compared (it is now
# batch 16 for 5 epochs, chosen afterwards by scripts/detect-batch-size.sh).
common=(--config configs/detect-quick.toml --set validation=300 --set "ks=$ks_toml" --set "seeds=${SEEDS:-[0]}" --set batch_size=32 --set epochs=6)
ema=(--set aux.glcan.global_init=\"ema\" --set aux.glcan.global_width=1.0 --set aux.glcan.ema_momentum=0.9)

names=()
run() { # name, then overrides
  local name=$1; shift
  names+=("$name")
  echo "== $name" >&2
  "$bin" grid "${common[@]}" --set "preset=\"val-$name\"" "$@" --out "$out/$name"
}
run e2e --set 'methods=["e2e"]'
run dgl --set 'methods=["dgl"]'
# The options, each from scratch-initialised half width unless it says otherwise.
run glcan-concat-up --set 'methods=["glcan"]' --set aux.glcan.fusion=\"concat-up\" --set aux.glcan.global_init=\"scratch\" --set aux.glcan.global_width=0.5
run glcan-top-down --set 'methods=["glcan"]' --set aux.glcan.fusion=\"top-down\" --set aux.glcan.global_init=\"scratch\" --set aux.glcan.global_width=0.5
run glcan-top-down-w1 --set 'methods=["glcan"]' --set aux.glcan.fusion=\"top-down\" --set aux.glcan.global_init=\"scratch\" --set aux.glcan.global_width=1.0
run glcan-top-down-w025 --set 'methods=["glcan"]' --set aux.glcan.fusion=\"top-down\" --set aux.glcan.global_init=\"scratch\" --set aux.glcan.global_width=0.25
run glcan-top-down-ema --set 'methods=["glcan"]' --set aux.glcan.fusion=\"top-down\" "${ema[@]}"
run glcan-top-down-ema0 --set 'methods=["glcan"]' --set aux.glcan.fusion=\"top-down\" "${ema[@]}" --set aux.glcan.ema_momentum=0.0
for name in "${names[@]}"; do
  awk -F, -v n="$name" -f scripts/detect-validation-rows.awk "$out/$name/results.csv"
done
