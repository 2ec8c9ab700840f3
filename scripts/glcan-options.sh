#!/usr/bin/env bash
# Compares GLCAN aux-net options on held-out *training* images (never the test set), in the
# setting of configs/long.toml: ResNet-32, 2000 Fashion-MNIST training images, 10 epochs.
# Each option gets its own preset name and results folder under runs/glcan-options/, and
# DGL runs once as the reference. Usage: scripts/glcan-options.sh [K ...] (default: 4)
set -euo pipefail
cd "$(dirname "$0")/.."
ks="${*:-4}"
ks_toml="[$(echo "$ks" | tr ' ' ',')]"
out=runs/glcan-options
bin=target/release/bench-classify
[[ -n "${CARGO_TARGET_DIR:-}" ]] && bin="$CARGO_TARGET_DIR/release/bench-classify"
common=(--config configs/long.toml --set validation=2000 --set "ks=$ks_toml" --set "seeds=[0]")

run() { # name, then overrides
  local name=$1; shift
  echo "== $name" >&2
  "$bin" grid "${common[@]}" --set "preset=\"val-$name\"" "$@" --out "$out/$name"
}
run dgl --set 'methods=["dgl"]'
run glcan-default --set 'methods=["glcan"]'
run glcan-ema --set 'methods=["glcan"]' --set aux.glcan.global_init=\"ema\" --set aux.glcan.global_width=1.0
run glcan-copy --set 'methods=["glcan"]' --set aux.glcan.global_init=\"copy\" --set aux.glcan.global_width=1.0
run glcan-gated --set 'methods=["glcan"]' --set aux.glcan.fusion=\"gated-sum\"
run glcan-no-branch-heads --set 'methods=["glcan"]' --set aux.glcan.branch_loss_weight=0.0
for name in dgl glcan-default glcan-ema glcan-copy glcan-gated glcan-no-branch-heads; do
  awk -F, -v n="$name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { printf "%-24s K=%s seed %s  validation accuracy %s%%  step peak %.1f MiB\n", n, $col["k"], $col["seed"], $col["test_accuracy"], $col["step_peak_bytes"] / 1048576 }' "$out/$name/results.csv"
done
