#!/usr/bin/env python3
"""The table of reports/pipeline/README.md from the files scripts/pipeline-bench.sh wrote.

Per method: the median images/s of each variant over the rounds, pipeline efficiency
(pipelined / (K x 1-thread sequential)) and speedup (pipelined / 2-thread sequential), each
module's busy fraction and each worker's peak memory (pipelined, median over rounds), and
the 1-minute load averages seen before the measurements. Usage: pipeline-summary.py DIR
"""
import json
import statistics
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else "reports/pipeline"
rows = [json.loads(line) for line in open(f"{folder}/measurements.jsonl")]
loads = [float(r["loadavg_before"].split()[0]) for r in rows] + [float(r["loadavg_after"].split()[0]) for r in rows]
contended = max(loads) > 2.0
print(f"1-minute load average during the pass: {min(loads):.2f} to {max(loads):.2f}"
      + (" -- CONTENDED (above 2 on 2 cores): the figures below are not a comparison" if contended else ""))
print()
print("| method | split | seq 1 thread img/s | seq 2 threads img/s | pipelined 2x1 img/s | efficiency (goal >= 0.9) | speedup vs seq 2 threads (goal >= 1.05) | busy fraction per module | peak MiB per worker (total) | module step s (time-balanced) | 2 ranks x 1 thread img/s (speedup vs seq 2 threads) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for method in ["dgl", "glcan"]:
    by = {v: [r["measure"] for r in rows if r["measure"]["method"] == method and r["variant"] == v] for v in ["seq1", "seq2", "pipe", "ranks"]}
    ranks = by.pop("ranks")
    if not all(by.values()):
        continue
    speed = {v: statistics.median(m["images_per_s"] for m in ms) for v, ms in by.items()}
    k = by["pipe"][0]["k"]
    busy = [statistics.median(m["module_busy_fraction"][i] for m in by["pipe"]) for i in range(k)]
    peaks = [statistics.median(m["worker_peak_bytes"][i] for m in by["pipe"]) / 2**20 for i in range(k)]
    total = statistics.median(m["peak_bytes"] for m in by["pipe"]) / 2**20
    split = json.load(open(f"{folder}/split-{method}.json"))
    print(f"| {method} | {' '.join(split['split_points'])} | {speed['seq1']:.1f} | {speed['seq2']:.1f} | {speed['pipe']:.1f} "
          f"| {speed['pipe'] / (k * speed['seq1']):.2f} | {speed['pipe'] / speed['seq2']:.2f}x "
          f"| {' / '.join(f'{b:.2f}' for b in busy)} | {' / '.join(f'{p:.0f}' for p in peaks)} ({total:.0f}) "
          f"| {' / '.join(f'{s:.3f}' for s in split['module_step_seconds'])} "
          + (f"| {statistics.median(m['images_per_s'] for m in ranks):.1f} ({statistics.median(m['images_per_s'] for m in ranks) / speed['seq2']:.2f}x) |" if ranks else "| not measured |"))
print()
print("Per round (img/s):")
for r in rows:
    m = r["measure"]
    print(f"- round {r['round']} {m['method']} {r['variant']}: {m['images_per_s']:.1f} (load before {r['loadavg_before'].split()[0]}, after {r['loadavg_after'].split()[0]})")
