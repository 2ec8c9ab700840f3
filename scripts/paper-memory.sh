#!/usr/bin/env bash
# Step peak memory at the papers' scale (reports/paper-memory/README.md): one `measure`
# per method and K, random inputs, one warm-up step then one measured step; each part
# writes reports/paper-memory/<part>.jsonl (one JSON object per line). Parts:
#   resnet110-e2e                  ResNet-110, CIFAR 32x32, batch 1024, end to end
#   resnet110-k{2,4}-infopro-split  GLCAN, DGL, InfoPro-Contrast at InfoPro's balanced split
#   resnet110-k{2,4}-memory-balanced  the same at the memory-balanced split (aux nets counted)
#   retinanet-512              RetinaNet, ResNet-50, 512x512, batch 2, early and memory-balanced splits
#   retinanet-800              the same at 800x1333 (early split only)
#   edsr                       EDSR-baseline x2, 48 px LR (96 px HR) patches, batch 16
#   edsr-options               GLCAN options on the EDSR-baseline (narrower aux heads)
# Usage: scripts/paper-memory.sh PART...   (binaries from $BIN_DIR, default target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-target/release}"
out=reports/paper-memory
mkdir -p "$out"
resnet110=(--net resnet110 --size 32 --channels 3 --classes 10 --batch-size 1024 --warmup 1 --steps 1)

# One line of $part's JSONL per call: the command's JSON object.
measure() {
    echo "+ $*" >&2
    "$bin/$@" >>"$out/$part.jsonl.tmp"
}

run_part() {
    case "$part" in
    resnet110-e2e)
        measure bench-classify measure --method e2e --k 1 "${resnet110[@]}"
        ;;
    resnet110-k[24]-infopro-split | resnet110-k[24]-memory-balanced)
        local k="${part:11:1}" split=published-balanced
        [[ "$part" = *memory-balanced ]] && split=memory-balanced
        for method in glcan dgl infopro-contrast; do
            measure bench-classify measure --method "$method" --k "$k" --split "$split" "${resnet110[@]}"
        done
        ;;
    retinanet-512)
        local common=(--net resnet50 --size 512 --batch-size 2 --warmup 1 --steps 1)
        measure bench-detect measure --method e2e --k 1 "${common[@]}"
        for split in early memory-balanced; do
            for k in 2 4; do
                for method in dgl glcan; do
                    measure bench-detect measure --method "$method" --k "$k" --split "$split" "${common[@]}"
                done
            done
        done
        ;;
    retinanet-800)
        local common=(--net resnet50 --size 800x1333 --batch-size 2 --warmup 1 --steps 1)
        measure bench-detect measure --method e2e --k 1 "${common[@]}"
        for k in 2 4; do
            for method in dgl glcan; do
                measure bench-detect measure --method "$method" --k "$k" --split early "${common[@]}"
            done
        done
        ;;
    edsr)
        local common=(--scale 2 --n-resblocks 16 --n-feats 64 --lr-patch 48 --batch-size 16 --branch-loss-weight 0 --warmup 1 --steps 1)
        measure bench-sr measure --method e2e --k 1 "${common[@]}"
        for split in even memory-balanced; do
            for k in 2 4; do
                for method in dgl glcan; do
                    measure bench-sr measure --method "$method" --k "$k" --split "$split" "${common[@]}"
                done
            done
        done
        ;;
    edsr-options)
        local common=(--scale 2 --n-resblocks 16 --n-feats 64 --lr-patch 48 --batch-size 16 --branch-loss-weight 0 --warmup 1 --steps 1 --split memory-balanced)
        for k in 2 4; do
            measure bench-sr measure --method glcan --k "$k" --aux-head-feats 16 "${common[@]}"
        done
        ;;
    *)
        echo "unknown part $part (see the head of $0)" >&2
        exit 2
        ;;
    esac
}

[ $# -ge 1 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
for part in "$@"; do
    rm -f "$out/$part.jsonl.tmp"
    run_part
    mv "$out/$part.jsonl.tmp" "$out/$part.jsonl"
done
