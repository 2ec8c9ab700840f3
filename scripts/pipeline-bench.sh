#!/usr/bin/env bash
# Pipelined against sequential modules at the same total cores (issue 17, part 3), in one
# interleaved pass: ResNet-32, batch 128, K = 2, DGL and GLCAN, at the time-balanced split
# that the pipelined schedule chooses (timed at one thread per worker), each of
#   seq1: sequential, 1 intra-op thread      (OMP_NUM_THREADS=1)
#   seq2: sequential, 2 intra-op threads     (OMP_NUM_THREADS=2)
#   pipe: pipelined, 2 workers x 1 thread    (OMP_NUM_THREADS=2 --worker-threads 1)
#   ranks: pipelined, 2 processes x 1 thread, one module each, linked by c10d (torchrun
#          --nproc-per-node 2; the last rank's figures: its images/s is the pipeline's)
# measured ROUNDS times in turn (seq1, seq2, pipe, ranks, seq1, ...), with the load average
# before each. VARIANTS="seq1 seq2 pipe" leaves the ranks out.
# Output: $OUT/split-<method>.json, $OUT/measurements.jsonl, $OUT/machine.txt; then
# scripts/pipeline-summary.py $OUT prints the table of the README.
# Usage: scripts/pipeline-bench.sh [OUT] (default reports/pipeline); run after `make build`.
set -euo pipefail
OUT=${1:-reports/pipeline}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-8}
BIN=target/release/bench-classify
TORCHRUN=.venv/bin/torchrun
VARIANTS=${VARIANTS:-seq1 seq2 pipe ranks}
COMMON=(--net resnet32 --batch-size 128 --k 2 --channels 3 --size 32 --classes 10)
mkdir -p "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . ':!reports' || echo -dirty)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "load before: $(uptime)"
} > "$OUT/machine.txt"

declare -A POINTS
for method in dgl glcan; do
  OMP_NUM_THREADS=2 "$BIN" measure "${COMMON[@]}" --method "$method" --split time-balanced \
    --schedule pipelined --worker-threads 1 --steps 1 --warmup 1 > "$OUT/split-$method.json"
  POINTS[$method]=$(python3 -c 'import json,sys; print(" ".join("--split-point="+p for p in json.load(open(sys.argv[1]))["split_points"]))' "$OUT/split-$method.json")
done

: > "$OUT/measurements.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for method in dgl glcan; do
    for variant in $VARIANTS; do
      load=$(cat /proc/loadavg)
      case $variant in
        seq1) result=$(OMP_NUM_THREADS=1 "$BIN" measure "${COMMON[@]}" --method "$method" ${POINTS[$method]} --steps "$STEPS" --warmup 2) ;;
        seq2) result=$(OMP_NUM_THREADS=2 "$BIN" measure "${COMMON[@]}" --method "$method" ${POINTS[$method]} --steps "$STEPS" --warmup 2) ;;
        pipe) result=$(OMP_NUM_THREADS=2 "$BIN" measure "${COMMON[@]}" --method "$method" ${POINTS[$method]} --steps "$STEPS" --warmup 2 \
                --schedule pipelined --worker-threads 1) ;;
        ranks) result=$(OMP_NUM_THREADS=1 "$TORCHRUN" --nproc-per-node 2 --master-port 29561 --no-python "$BIN" measure "${COMMON[@]}" \
                --method "$method" ${POINTS[$method]} --steps "$STEPS" --warmup 2 --schedule pipelined --worker-threads 1 2>/dev/null |
                python3 -c 'import json,sys; print(json.dumps(max((json.loads(l) for l in sys.stdin if l.startswith("{")), key=lambda m: m["rank"])))') ;;
      esac
      echo "{\"round\":$round,\"variant\":\"$variant\",\"loadavg_before\":\"$load\",\"loadavg_after\":\"$(cat /proc/loadavg)\",\"measure\":$result}" >> "$OUT/measurements.jsonl"
      echo "round $round $method $variant: $(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["images_per_s"],1), "img/s")' "$result"), load $load" >&2
    done
  done
done
echo "load after: $(uptime)" >> "$OUT/machine.txt"
