#!/usr/bin/env python3
"""Renders the Markdown tables of reports/paper-memory/README.md from the JSONL files that
scripts/paper-memory.sh wrote: one table per file, peak MiB (2^20 bytes) of the counting
allocator and its change against the E2E row of the same task (the file's own, or the one
named with --e2e-from)."""

import argparse
import json
import sys

MIB = 2**20


def rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def option(row):
    """What a row sets beyond the method's defaults, for the options column."""
    parts = []
    if row.get("aux_head_feats") not in (None, row.get("n_feats", 64)):
        parts.append(f"aux_head_feats={row['aux_head_feats']}")
    if row["method"] == "glcan" and row.get("branch_loss_weight") not in (None, 0.0):
        parts.append(f"branch_loss_weight={row['branch_loss_weight']}")
    if row["method"] == "glcan" and row.get("glcan_global_width") not in (None, 0.5):
        parts.append(f"global_width={row['glcan_global_width']}")
    return ", ".join(parts) or "defaults"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jsonl")
    parser.add_argument("--e2e-from", help="JSONL holding the E2E row to compare with")
    parser.add_argument("--split-label", default="-", help="split column for rows that do not name theirs")
    args = parser.parse_args()
    measured = rows(args.jsonl)
    e2e = [r for r in (rows(args.e2e_from) if args.e2e_from else measured) if r["method"] == "e2e"]
    if len(e2e) != 1:
        sys.exit(f"expected one e2e row, found {len(e2e)}")
    base = e2e[0]["peak_bytes"]
    if args.e2e_from:
        measured = e2e + measured
    print("| method | K | split | split points | options | peak MiB | vs E2E | alive at step start MiB | module estimates MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in measured:
        split = r.get("split", args.split_label) if r["k"] > 1 else "-"
        points = " ".join(r["split_points"]) or "-"
        estimates = r.get("module_memory_bytes") or []
        estimates = " / ".join(f"{b / MIB:.0f}" for b in estimates) or "-"
        change = "-" if r["method"] == "e2e" else f"{100 * (r['peak_bytes'] - base) / base:+.1f}%"
        # Weights, gradients and optimizer state (and the inputs): alive before the step's first forward.
        start = (r["peak_bytes"] - r["peak_above_start_bytes"]) / MIB
        print(
            f"| {r['method']} | {r['k']} | {split} | {points} | {option(r)} | {r['peak_bytes'] / MIB:.1f} | {change} | {start:.1f} | {estimates} |"
        )


if __name__ == "__main__":
    main()
