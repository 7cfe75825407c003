#!/usr/bin/env python3
"""Interleaved A/B comparison of two builds of pyctx on the same benchmarks.

Runs bench_roundtrip and bench_async (pipelined) from build A and build B
alternately (A B A B ...) for --rounds alternations, and prints the median
of each figure per build and the B/A ratio of the medians, with the load
average seen. Used to check that a change to the core costs no speed:

    python3 bench/ab_compare.py --a /path/to/old/build --b build --rounds 10
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

BENCHES = [
    ("bench_roundtrip", ["--calls", "50000", "--limit-number", "20000"],
     [("call identity", "p50_ns"), ("call math.sqrt", "p50_ns"),
      ("eval x*y+1 with locals", "p50_ns")]),
    ("bench_async", ["--part", "pipelined", "--requests", "200000"],
     [(None, "per_s")]),
]


def run(build, binary, args):
    out = subprocess.run([os.path.join(build, "bench", binary)] + args, check=True,
                         capture_output=True, text=True, timeout=600).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="build dir of the baseline")
    p.add_argument("--b", required=True, help="build dir of the candidate")
    p.add_argument("--rounds", type=int, default=10)
    opts = p.parse_args()
    figures = {}  # (binary, case, mode, metric) -> {"A": [...], "B": [...]}
    loads = []
    for _ in range(opts.rounds):
        for label, build in (("A", opts.a), ("B", opts.b)):
            loads.append(os.getloadavg()[0])
            for binary, args, wanted in BENCHES:
                for row in run(build, binary, args):
                    for case, metric in wanted:
                        if row["metric"] == metric and (case is None or row["case"] == case):
                            key = (binary, row["case"], row["mode"], metric)
                            figures.setdefault(key, {"A": [], "B": []})[label].append(row["value"])
    print(f"# {opts.rounds} interleaved rounds; load average min/median/max "
          f"{min(loads):.1f}/{statistics.median(loads):.1f}/{max(loads):.1f} "
          f"on {os.cpu_count()} CPUs")
    print("| benchmark | case | mode | metric | A median | B median | B/A |")
    print("|---|---|---|---|---|---|---|")
    for (binary, case, mode, metric), v in sorted(figures.items()):
        a, b = statistics.median(v["A"]), statistics.median(v["B"])
        print(f"| {binary} | {case} | {mode} | {metric} | {a:.0f} | {b:.0f} | {b / a:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
