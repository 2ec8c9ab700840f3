#!/usr/bin/env bash
# Step peak memory at the papers' scale (reports/paper-memory/README.md): one `measure`
# per method, K and split, on random inputs, one warm-up step then one measured step; each
# part writes reports/paper-memory/<part>.jsonl (one JSON object per line). Parts:
#   resnet110-e2e                     ResNet-110, CIFAR 32x32, batch 1024, end to end
#   resnet110-k{2,4}-infopro-split    local methods at InfoPro's memory-balanced points
#   resnet110-k{2,4}-memory-balanced  local methods at our memory-balanced split (aux nets counted)
#   retinanet-512-e2e                 RetinaNet (FPN 256, 4-conv subnets), ResNet-50, 512x512, batch 2
#   retinanet-512-k{2,4}              local methods at the early and the memory-balanced split
#   retinanet-800-e2e                 the same detector at 800x1333
#   retinanet-800-k{2,4}              local methods at the early split
#   edsr-e2e                          EDSR-baseline x2, 48 px LR (96 px HR) patches, batch 16
#   edsr-k{2,4}                       local methods at the even and the memory-balanced split
#   edsr-options-k{2,4}               GLCAN with 16-feature aux up-samplers, memory-balanced
# Usage: [METHODS="glcan dgl"] scripts/paper-memory.sh PART...
# Binaries come from $BIN_DIR (default target/release). $METHODS picks the local methods of
# the K parts (default: all the suite runs); on 2 busy cores one ResNet-110 run takes ~10
# minutes, an EDSR or RetinaNet-512 run ~3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-target/release}"
out=reports/paper-memory
mkdir -p "$out"
resnet110=(--net resnet110 --size 32 --channels 3 --classes 10 --batch-size 1024 --warmup 1 --steps 1)
retinanet512=(--net resnet50 --size 512 --batch-size 2 --warmup 1 --steps 1)
retinanet800=(--net resnet50 --size 800x1333 --batch-size 2 --warmup 1 --steps 1)
edsr=(--scale 2 --n-resblocks 16 --n-feats 64 --lr-patch 48 --batch-size 16 --branch-loss-weight 0 --warmup 1 --steps 1)

# One line of $part's JSONL per call: the command's JSON object.
measure() {
    echo "+ $*" >&2
    "$bin/$@" >>"$out/$part.jsonl.tmp"
}

run_part() {
    local k="${part##*-k}"
    case "$part" in
    resnet110-e2e) measure bench-classify measure --method e2e --k 1 "${resnet110[@]}" ;;
    resnet110-k[24]-infopro-split | resnet110-k[24]-memory-balanced)
        k="${part:11:1}"
        local split=published-balanced
        [[ "$part" = *memory-balanced ]] && split=memory-balanced
        for method in ${METHODS:-glcan dgl infopro-contrast}; do
            measure bench-classify measure --method "$method" --k "$k" --split "$split" "${resnet110[@]}"
        done
        ;;
    retinanet-512-e2e) measure bench-detect measure --method e2e --k 1 "${retinanet512[@]}" ;;
    retinanet-512-k[24])
        for method in ${METHODS:-glcan dgl}; do
            for split in early memory-balanced; do
                measure bench-detect measure --method "$method" --k "$k" --split "$split" "${retinanet512[@]}"
            done
        done
        ;;
    retinanet-800-e2e) measure bench-detect measure --method e2e --k 1 "${retinanet800[@]}" ;;
    retinanet-800-k[24])
        for method in ${METHODS:-glcan dgl}; do
            measure bench-detect measure --method "$method" --k "$k" --split early "${retinanet800[@]}"
        done
        ;;
    edsr-e2e) measure bench-sr measure --method e2e --k 1 "${edsr[@]}" ;;
    edsr-k[24])
        for method in ${METHODS:-glcan dgl}; do
            for split in even memory-balanced; do
                measure bench-sr measure --method "$method" --k "$k" --split "$split" "${edsr[@]}"
            done
        done
        ;;
    edsr-options-k[24]) measure bench-sr measure --method glcan --k "$k" --split memory-balanced --aux-head-feats 16 "${edsr[@]}" ;;
    *)
        echo "unknown part $part (see the head of $0)" >&2
        exit 2
        ;;
    esac
}

[ $# -ge 1 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
for part in "$@"; do
    rm -f "$out/$part.jsonl.tmp"
    run_part
    mv "$out/$part.jsonl.tmp" "$out/$part.jsonl"
done
