#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Summarises bench/outside/run's result lines (key=value pairs, one run a
line) as Markdown tables: per implementation the median over the
repetitions and the range, and ratios to spdlog's async logger and to
floor, each ratio taken within one repetition (same minutes), then the
median and range of those."""
import statistics
import sys
from collections import defaultdict


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
            if "mode" in kv:
                runs.append(kv)
    return runs


def label(r):
    name = r.get("impl", "offhand")
    return name + ("@base" if r["variant"] == "base" else "")


def fmt_range(values, digits=0):
    med = statistics.median(values)
    f = "{:,.%df}" % digits
    if len(values) == 1:
        return f.format(med)
    return f"{f.format(med)} ({f.format(min(values))}–{f.format(max(values))})"


def table(runs, key, metrics, peers):
    """metrics: figures to show; peers: implementations to divide by."""
    groups = defaultdict(lambda: defaultdict(dict))  # key -> rep -> label -> run
    for r in runs:
        groups[key(r)][r["rep"]][label(r)] = r
    for k in sorted(groups):
        reps = groups[k]
        labels = sorted({l for rep in reps.values() for l in rep})
        print(f"\n### {k}\n")
        head = ["implementation"] + metrics + [f"{m} / {p}" for p in peers for m in metrics[:1]]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for l in labels:
            cells = [l]
            for m in metrics:
                vals = [float(rep[l][m]) for rep in reps.values() if l in rep]
                cells.append(fmt_range(vals))
            for p in peers:
                m = metrics[0]
                ratios = [float(rep[l][m]) / float(rep[p][m]) for rep in reps.values()
                          if l in rep and p in rep and float(rep[p][m]) > 0]
                cells.append(fmt_range(ratios, 2) if ratios else "")
            print("| " + " | ".join(cells) + " |")


def main(path):
    runs = parse(path)
    by_mode = defaultdict(list)
    for r in runs:
        by_mode[r["mode"]].append(r)
    if by_mode["latency"]:
        lat = by_mode["latency"]
        for m in ("p50", "p99", "p999"):
            print(f"\n## caller latency, {m} (ns; median (range) over repetitions)")
            table(lat, lambda r: f"{r['threads']} thread(s), {m}", [m, "peak_rss_kib"],
                  ["spdlog", "floor", "offhand"])
    if by_mode["throughput"]:
        print("\n## throughput (records/s)")
        table(by_mode["throughput"], lambda r: "1 thread", ["records_per_s", "peak_rss_kib"],
              ["spdlog", "floor", "offhand"])
    if by_mode["stall"]:
        print("\n## stall (20 ms per record, queue 1,024, block)")
        table(by_mode["stall"], lambda r: "stall", ["longest_ms", "calls_over_100ms", "caller_waits"], [])
    if by_mode["footprint"]:
        print("\n## resident memory of one idle proxy (KiB)")
        table(by_mode["footprint"], lambda r: f"capacity {int(r['capacity']):>6}", ["rss_per_proxy_kib"], [])


if __name__ == "__main__":
    main(sys.argv[1])
