#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Draws the caller-latency CDF of bench/outside/run's quantile files as a
PNG (matplotlib, Debian's python3-matplotlib).

    CDF=build-outside/cdf bench/outside/run --reps 3 latency
    bench/plot_cdf.py build-outside/cdf 1 bench/results/latency-cdf.png

Each file is `<variant>-<impl>-<threads>-<rep>.txt` with lines `q ns`; the
plot shows, per implementation, the repetition with the median p50, on a
log-scaled tail axis (the fraction of calls slower than x)."""
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"offhand": "offhand (ProxyHandler)",
          "offhand-deferred": "offhand, deferred formatting", "spdlog": "spdlog async",
          "boost": "Boost.Log async sink", "floor": "floor"}


def load(path):
    qs, ns = [], []
    with open(path) as f:
        for line in f:
            q, v = line.split()
            qs.append(float(q))
            ns.append(float(v))
    return qs, ns


def p50(points):
    qs, ns = points
    return next(v for q, v in zip(qs, ns) if q >= 0.5)


def main(directory, threads, out):
    runs = {}
    for path in glob.glob(os.path.join(directory, f"*-*-{threads}-*.txt")):
        parts = os.path.basename(path)[:-4].split("-")
        variant, impl = parts[0], "-".join(parts[1:-2])
        name = impl if variant == "new" else f"{impl}@{variant}"
        runs.setdefault(name, []).append(load(path))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in sorted(runs):
        reps = sorted(runs[name], key=p50)
        qs, ns = reps[len(reps) // 2]
        impl = name.split("@")[0]
        label = LABELS.get(impl, impl) + (f" ({name.split('@')[1]})" if "@" in name else "")
        ax.plot(ns, [1 - q for q in qs], label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1)
    ax.set_xlabel("caller latency per log call (ns, incl. ~15 ns timer)")
    ax.set_ylabel("fraction of calls slower")
    ax.set_title(f"Caller latency, {threads} thread(s), bursts of 100 every 1 ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
