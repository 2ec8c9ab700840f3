#!/usr/bin/env bash
# Our training step against PyTorch eager's, side by side in one run: ResNet-32, batch 128,
# CIFAR-shaped random input, SGD (lr 0.1, Nesterov 0.9, weight decay 1e-4), the same threads
# and the same CPU kernels. Each round runs every configuration once, in turn (A B C ... A B
# C ...), each in its own process, so that a change of machine load hits them all alike; the
# 1-minute load average is read before each run. Writes <out>/runs.jsonl (one line a run)
# and <out>/summary.md (medians over rounds, ratios to the faster PyTorch layout).
#
#   scripts/pytorch-peer.sh                      # ROUNDS=5 STEPS=10: 30 runs of 13 steps each
#   ROUNDS=3 STEPS=6 ISA=native scripts/pytorch-peer.sh
#
# Settings (environment): ROUNDS (5), STEPS measured steps (10), WARMUP steps (3),
# THREADS (2), ISA avx2 (default: oneDNN, ATen and MKL pinned to AVX2 on both sides, as
# glcan_core::cpu_kernels does) or native, OUT (reports/pytorch-peer/<isa>), BIN
# (target/release/bench-classify), PYTHON (.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
ISA=${ISA:-avx2}
OUT=${OUT:-reports/pytorch-peer/$ISA}
BIN=${BIN:-target/release/bench-classify}
PYTHON=${PYTHON:-.venv/bin/python}

for n in "$ROUNDS" "$STEPS" "$WARMUP" "$THREADS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "error: ROUNDS, STEPS, WARMUP and THREADS must be positive integers (got '$n')" >&2; exit 2; }
done
case "$ISA" in
    avx2) pin=(ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE) ;;
    native) pin=() ;;
    *) echo "error: ISA must be avx2 or native (got '$ISA')" >&2; exit 2 ;;
esac
[[ -x "$BIN" ]] || { echo "error: $BIN not found: cargo build --release -p bench-classify" >&2; exit 2; }
[[ -x "$PYTHON" ]] || { echo "error: $PYTHON not found: scripts/setup-venv.sh" >&2; exit 2; }

mkdir -p "$OUT"
jsonl="$OUT/runs.jsonl"
: >"$jsonl"
# Both sides see the same environment; the pin is set for PyTorch here and read by ours too
# (bench-classify pins with --cpu-isa, which writes the same variables).
run_env=(env -u ONEDNN_MAX_CPU_ISA -u ATEN_CPU_CAPABILITY -u MKL_CBWR OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" "${pin[@]}")
ours=("$BIN" --cpu-isa "$ISA" measure --net resnet32 --batch-size 128 --warmup "$WARMUP" --steps "$STEPS")
peer=("$PYTHON" scripts/pytorch_peer.py step --batch-size 128 --warmup "$WARMUP" --steps "$STEPS" --threads "$THREADS")

configs=(torch-contiguous torch-channels_last e2e-contiguous e2e-channels_last dgl4-contiguous dgl4-channels_last)
command_of() {
    case "$1" in
        torch-*) echo "${peer[*]} --layout ${1#torch-}" ;;
        e2e-*) echo "${ours[*]} --method e2e --k 1 --memory-format ${1#e2e-}" ;;
        dgl4-*) echo "${ours[*]} --method dgl --k 4 --memory-format ${1#dgl4-}" ;;
    esac
}

echo "pytorch-peer: $ROUNDS rounds x ${#configs[@]} configurations, $STEPS steps each, $THREADS threads, ISA $ISA -> $OUT"
for round in $(seq 1 "$ROUNDS"); do
    for config in "${configs[@]}"; do
        load1=$(cut -d' ' -f1 /proc/loadavg)
        # shellcheck disable=SC2046 # the command is words without spaces inside them
        result=$("${run_env[@]}" $(command_of "$config") 2> >(grep -v -e "Failed to initialize NumPy" -e "_conversion_method_template" >&2))
        [[ "$result" == "{"* ]] || { echo "error: $config printed no JSON object: $result" >&2; exit 1; }
        echo "{\"round\":$round,\"config\":\"$config\",\"load1_before\":$load1,${result#\{}" >>"$jsonl"
        echo "round $round $config: load $load1, $(grep -o '"images_per_s": *[0-9.]*' <<<"$result")"
    done
done
"$PYTHON" scripts/pytorch_peer.py summary "$jsonl" --threads "$THREADS" --isa "$ISA" --commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +dirty)" >"$OUT/summary.md"
cat "$OUT/summary.md"
