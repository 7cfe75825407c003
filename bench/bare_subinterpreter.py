"""Benchmark 6, reference side: what CPython itself costs per isolated
(own-GIL) subinterpreter create/destroy, with no pyctx involved. Measures
the same figures as bench_context_cost: median create+destroy time and
resident memory growth per cycle. The allocator is chosen by the caller
with PYTHONMALLOC (e.g. PYTHONMALLOC=malloc) and named with --allocator.

usage: PYTHONMALLOC=... python bare_subinterpreter.py --allocator NAME [--cycles N]
"""

import argparse
import json
import platform
import statistics
import sys
import time

try:
    import _interpreters as interpreters  # 3.13+
except ImportError:
    try:
        import _xxsubinterpreters as interpreters  # 3.12
    except ImportError:
        interpreters = None


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    sys.exit("VmRSS not found in /proc/self/status")


def emit(case, metric, value, unit):
    print(json.dumps({"bench": "context_cost", "case": case, "mode": "owngil",
                      "metric": metric, "value": value, "unit": unit,
                      "python": platform.python_version()}), flush=True)


def cycle():
    interp = interpreters.create()  # "isolated": own GIL, own obmalloc
    interpreters.destroy(interp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocator", required=True)
    parser.add_argument("--cycles", type=int, default=200)
    args = parser.parse_args()
    if args.cycles < 1:
        parser.error("--cycles must be >= 1")
    case = "bare CPython subinterpreter, allocator=" + args.allocator
    if interpreters is None:
        print(json.dumps({"bench": "context_cost", "case": case, "mode": "owngil",
                          "unavailable": "no _interpreters module in this Python",
                          "python": platform.python_version()}))
        return

    for _ in range(2):  # warm-up, as in bench_context_cost
        cycle()
    rss0 = rss_kib()
    times = []
    for _ in range(args.cycles):
        start = time.perf_counter()
        cycle()
        times.append(time.perf_counter() - start)
    growth_mib = (rss_kib() - rss0) / 1024 / args.cycles
    emit(case, "create_close_ms", statistics.median(times) * 1e3, "ms")
    emit(case, "rss_growth_per_cycle_mib", growth_mib, "MiB")


if __name__ == "__main__":
    main()
