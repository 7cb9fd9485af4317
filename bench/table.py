#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints compare_bench's JSON as a Markdown table, each figure also as a
ratio to offhand's (x < 1 means smaller than offhand's figure)."""
import json
import re
import sys
from collections import defaultdict

COUNTERS = {
    "BM_Disabled": ["real_time"],
    "BM_CallerLatency": ["p50_ns", "p99_ns", "p999_ns", "max_ns"],
    "BM_Throughput": ["records_per_second", "lost"],
    "BM_Stall": ["p99_ns", "max_ns", "dropped", "caller_waits", "errors_lost"],
    "BM_Allocations": ["allocs_per_record"],
}


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = defaultdict(dict)  # (bench, variant) -> impl -> {counter: value}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        m = re.match(r"(BM_\w+)/(\w+)(.*)", b["name"])
        if not m:
            continue
        bench, impl, rest = m.groups()
        threads = re.search(r"threads:(\d+)", rest)
        variant = f"threads:{threads.group(1)}" if threads and bench == "BM_CallerLatency" else ""
        rows[(bench, variant)][impl] = b
    ctx = data["context"]
    print(f"Run {ctx['date']} on {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz "
          f"(load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))})\n")
    print("| benchmark | figure | implementation | value | ratio to offhand | ratio to floor |")
    print("|---|---|---|---:|---:|---:|")
    for (bench, variant), impls in rows.items():
        for counter in COUNTERS.get(bench, []):
            base = impls.get("offhand", {}).get(counter)
            floor = impls.get("floor", {}).get(counter)
            for impl, b in impls.items():
                v = b.get(counter)
                if v is None:
                    continue
                unit = " ns" if counter == "real_time" else ""
                ratio = f"{v / base:.2f}" if base else "-"
                fratio = f"{v / floor:.2f}" if floor else "-"
                print(f"| {bench} {variant} | {counter} | {impl} | {v:,.1f}{unit} | {ratio} | {fratio} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
