#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints compare_bench's JSON as a Markdown table, each figure also as a
ratio to offhand's (x < 1 means smaller than offhand's figure). With
repetitions, each figure is the median of the repetitions."""
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


# Figures where one bad run matters more than the typical one: the largest
# of the repetitions, not the median.
WORST = {"lost", "errors_lost", "caller_waits", "max_ns"}


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = defaultdict(dict)  # (bench, variant) -> impl -> {counter: value}
    worst = defaultdict(dict)  # the same, for WORST counters: the largest of the runs
    for b in data["benchmarks"]:
        # Single runs, or the median of repeated ones (it comes after the
        # runs it sums up, so it replaces them below).
        aggregate = b.get("run_type") == "aggregate"
        if aggregate and b.get("aggregate_name") != "median":
            continue
        m = re.match(r"(BM_\w+)/(\w+)(.*)", b.get("run_name", b["name"]))
        if not m:
            continue
        bench, impl, rest = m.groups()
        threads = re.search(r"threads:(\d+)", rest)
        variant = f"threads:{threads.group(1)}" if threads and bench == "BM_CallerLatency" else ""
        rows[(bench, variant)][impl] = b
        if not aggregate:
            for counter in WORST:
                if counter in b:
                    seen = worst[(bench, variant)].setdefault(impl, {})
                    seen[counter] = max(seen.get(counter, b[counter]), b[counter])
    for key, impls in worst.items():
        for impl, counters in impls.items():
            rows[key][impl] = {**rows[key][impl], **counters}
    ctx = data["context"]
    reps = max((b.get("repetitions", 1) for b in data["benchmarks"]), default=1)
    print(f"Run {ctx['date']} on {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz "
          f"(load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}); "
          f"{'median of ' + str(reps) + ' interleaved repetitions' if reps > 1 else 'one repetition'}\n")
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
