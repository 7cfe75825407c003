"""The numpy scaling benchmark (bench_process_scaling), multiprocessing side:
the same numpy_job units on a multiprocessing Pool of N, as a speedup over N
sequential units measured in this same process (pool start-up not timed, as
the process contexts' start is not timed there either). Run with the Python
pyctx embeds (build/python.env). Prints JSON lines in the format of the C++
benchmarks; says "unavailable" where numpy is missing. PYCTX_BENCH_FULL=1
makes every unit 20 times longer, as in bench_process_scaling.

usage: python numpy_baselines.py [--n N] [--rounds N]
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyctx_bench_funcs as funcs  # noqa: E402  (needs the path above)

SCALE = 20 if os.environ.get("PYCTX_BENCH_FULL") == "1" else 1
# The same shapes as bench_process_scaling.cpp.
SHAPES = [("numpy, 64-element arrays", 64, 3000 * SCALE),
          ("numpy, 200k-element arrays", 200000, 15 * SCALE)]


def emit(case, metric, value, unit):
    print(json.dumps({"bench": "process_scaling", "case": case, "mode": "multiprocessing",
                      "metric": metric, "value": value, "unit": unit,
                      "python": platform.python_version()}), flush=True)


def unit(args):
    return funcs.numpy_job(*args)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not funcs.numpy_available():
        for name, _, _ in SHAPES:
            print(json.dumps({"bench": "process_scaling", "case": name,
                              "mode": "multiprocessing", "unavailable":
                              "numpy is not installed for this Python",
                              "python": platform.python_version()}), flush=True)
        return
    with multiprocessing.get_context("spawn").Pool(a.n) as pool:
        for name, size, repeat in SHAPES:
            job = [(size, repeat)] * a.n
            expected = unit(job[0])
            pool.map(unit, job)  # warm: numpy imported in every worker
            walls, speedups = [], []
            for _ in range(a.rounds):
                t0 = time.perf_counter()
                if any(unit(j) != expected for j in job):
                    sys.exit("numpy_job is not stable")
                seq = time.perf_counter() - t0
                t0 = time.perf_counter()
                if any(v != expected for v in pool.map(unit, job)):
                    sys.exit("numpy_job returned a wrong value in the pool")
                par = time.perf_counter() - t0
                walls.append(par)
                speedups.append(seq / par)
            case = "%s N=%d" % (name, a.n)
            emit(case, "wall_s", statistics.median(walls), "s")
            emit(case, "speedup", statistics.median(speedups), "x")


if __name__ == "__main__":
    main()
