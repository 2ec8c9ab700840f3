#!/usr/bin/env bash
# Compares GLCAN aux-net options on held-out *training* images (never the test set), in the
# setting of configs/long.toml: ResNet-32, the first 2000 Fashion-MNIST training images, 10
# epochs, validated on the last 2000 training images (`validation=2000`: rows say
# fashion-mnist-val). Each option runs at K = 2, 4 and 8 with seeds 0, 1 and 2, in its own
# results folder under runs/glcan-options/ (a re-run skips finished runs), and the script
# ends with a table: validation accuracy, mean ± std over seeds, per option and K.
#
#   scripts/glcan-options.sh                 # every option below
#   scripts/glcan-options.sh default uniform # only these options
#   THREADS=1 scripts/glcan-options.sh       # intra-op threads (default: the preset's)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/glcan-options}
bin=${BIN:-target/release/bench-classify}
[[ -x "$bin" ]] || { echo "error: $bin not found: cargo build --release -p bench-classify" >&2; exit 2; }
common=(--config configs/long.toml --set validation=2000 --set 'ks=[2,4,8]' --set 'seeds=[0,1,2]' --set 'methods=["glcan"]')
[[ -n "${THREADS:-}" ]] && common+=(--set "threads=$THREADS")

# name | the --set overrides that make the option (on top of today's defaults)
options=(
  "default|"
  "uniform|aux.glcan.global_units=\"uniform-sample\""
  "uniform-wide|aux.glcan.global_units=\"uniform-sample\" aux.glcan.global_width=1.0"
  "wide|aux.glcan.global_width=1.0"
  "copy|aux.glcan.global_init=\"copy\" aux.glcan.global_width=1.0"
  "branch-heads|aux.glcan.branch_loss_weight=0.1"
  "deep-branch-heads|aux.glcan.branch_loss_weight=0.1 aux.glcan.branch_heads_from_depth=0.5"
)
chosen=("$@")

selected() {
  [[ ${#chosen[@]} -eq 0 ]] && return 0
  local c
  for c in "${chosen[@]}"; do [[ "$c" == "$1" ]] && return 0; done
  return 1
}

for entry in "${options[@]}"; do
  name=${entry%%|*}
  selected "$name" || continue
  sets=()
  for s in ${entry#*|}; do sets+=(--set "$s"); done
  echo "== $name ${entry#*|}" >&2
  "$bin" grid "${common[@]}" --set "preset=\"val-$name\"" "${sets[@]}" --out "$out/$name"
done

echo
echo "| option | K | validation accuracy (mean ± std) | seeds | step peak |"
echo "|---|---:|---:|---:|---:|"
for entry in "${options[@]}"; do
  name=${entry%%|*}
  selected "$name" || continue
  [[ -f "$out/$name/results.csv" ]] || continue
  awk -F, -v n="$name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["status"] == "ok" { k = $col["k"]; a = $col["test_accuracy"]; s[k] += a; q[k] += a * a; c[k]++; m[k] = $col["step_peak_bytes"] / 1048576 }
    END { for (k = 2; k <= 8; k *= 2) if (c[k]) {
      mean = s[k] / c[k]; var = c[k] > 1 ? (q[k] - c[k] * mean * mean) / (c[k] - 1) : 0
      printf "| %s | %d | %.2f ± %.2f%% | %d | %.1f MiB |\n", n, k, mean, sqrt(var > 0 ? var : 0), c[k], m[k] } }' "$out/$name/results.csv"
done
