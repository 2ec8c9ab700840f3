#!/usr/bin/env bash
# Step peak memory of EDSR-baseline (16 blocks, 64 features, x2) for E2E, the plain local
# baseline (dgl) and GLCAN at K = 2 and 4, on random 48 px LR patches: the model size the
# CPU quick preset cannot afford to train. One JSON object per line, on stdout. Arguments
# after the batch size go to every local method's `bench-sr measure`, e.g.
#   scripts/sr-memory.sh 4 --aux-head-feats 16 --branch-loss-weight 0 --dgl-conv-layers 1
set -euo pipefail
batch="${1:-4}"
shift || true
bin="${CARGO_TARGET_DIR:-target}/release/bench-sr"
"$bin" measure --method e2e --k 1 --batch-size "$batch" --lr-patch 48 --warmup 1 --steps 1
for run in "dgl 2" "dgl 4" "glcan 2" "glcan 4"; do
    set -- $run "$@"
    method="$1" k="$2"
    shift 2
    "$bin" measure --method "$method" --k "$k" --batch-size "$batch" --lr-patch 48 --warmup 1 --steps 1 "$@"
done
