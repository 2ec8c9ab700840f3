#!/usr/bin/env bash
# Peak training-step memory and throughput on the CPU, the figures of the engine's closing
# note: ResNet-110 (batch 128, 3x32x32) for E2E and DGL / InfoPro / GLCAN at K = 2, 4, 8
# with InfoPro's published splits (and memory-balanced splits at K = 4), and images/s of
# every method on ResNet-32 at batch 128. One JSON object per line into reports/measurements/.
# Usage: scripts/measure-memory.sh   (after `make build`; about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARGO_TARGET_DIR:-target}/release/bench-classify
[[ -x "$bin" ]] || { echo "measure-memory: $bin not found; run 'make build' first" >&2; exit 1; }
out=reports/measurements
mkdir -p "$out"

memory="$out/resnet110-cpu-b128-memory.jsonl"
: > "$memory.tmp"
run110() { "$bin" measure --net resnet110 --batch-size 128 --channels 3 --size 32 --steps 2 --warmup 1 "$@" >> "$memory.tmp"; tail -n 1 "$memory.tmp" >&2; }
run110 --method e2e --k 1
for k in 2 4 8; do
  for method in dgl infopro-contrast glcan; do
    run110 --method "$method" --k "$k"
  done
done
for method in dgl infopro-contrast glcan; do
  run110 --method "$method" --k 4 --split memory-balanced
  run110 --method "$method" --k 4 --split published-balanced
done
mv "$memory.tmp" "$memory"

speed="$out/resnet32-cpu-b128-speed.jsonl"
: > "$speed.tmp"
for method in e2e greedy-sl dgl infopro-softmax infopro-contrast glcan; do
  k=4; [[ $method == e2e ]] && k=1
  "$bin" measure --net resnet32 --batch-size 128 --channels 3 --size 32 --steps 5 --warmup 2 --method "$method" --k "$k" >> "$speed.tmp"
  tail -n 1 "$speed.tmp" >&2
done
mv "$speed.tmp" "$speed"
echo "measure-memory: wrote $memory and $speed" >&2
