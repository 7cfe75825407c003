"""Benchmark 5, plain-Python side: the same job as bench_scaling on N
threads and on a multiprocessing Pool of N, each as a speedup over N
sequential units measured in this same process. Standard library only; run
with the Python pyctx embeds (build/python.env). Prints JSON lines in the
format of the C++ benchmarks.

usage: python scaling_baselines.py [--n N] [--fact-n N] [--repeat N] [--rounds N]
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyctx_bench_funcs as funcs  # noqa: E402  (needs the path above)


def emit(case, mode, metric, value, unit):
    print(json.dumps({"bench": "scaling", "case": case, "mode": mode, "metric": metric,
                      "value": value, "unit": unit,
                      "python": platform.python_version()}), flush=True)


def run_threads(n, job_args):
    threads = [threading.Thread(target=funcs.factorial_job, args=job_args) for _ in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def run_pool(pool, n, job_args, expected):
    start = time.perf_counter()
    results = pool.starmap(funcs.factorial_job, [job_args] * n)
    wall = time.perf_counter() - start
    if results != [expected] * n:
        sys.exit("multiprocessing returned a wrong value")
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=os.cpu_count())
    parser.add_argument("--fact-n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if min(args.n, args.fact_n, args.repeat, args.rounds) < 1:
        parser.error("counts must be >= 1")
    job_args = (args.fact_n, args.repeat)
    case = "factorial(%d) x%d, N=%d" % (args.fact_n, args.repeat, args.n)

    expected = funcs.factorial_job(args.fact_n, 1)
    seq_walls, results = [], {"python threads": ([], []), "python multiprocessing": ([], [])}
    with multiprocessing.Pool(args.n) as pool:
        pool.starmap(funcs.factorial_job, [(10, 1)] * args.n)  # start the workers
        # As in bench_scaling: every round times each mode back to back and
        # takes speedups within the round; medians over rounds are printed.
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(args.n):
                if funcs.factorial_job(*job_args) != expected:
                    sys.exit("factorial_job returned a wrong value")
            seq = time.perf_counter() - start
            seq_walls.append(seq)
            for mode, wall in (("python threads", run_threads(args.n, job_args)),
                               ("python multiprocessing",
                                run_pool(pool, args.n, job_args, expected))):
                results[mode][0].append(wall)
                results[mode][1].append(seq / wall)
    emit(case, "python sequential", "wall_s", statistics.median(seq_walls), "s")
    for mode, (walls, speedups) in results.items():
        emit(case, mode, "wall_s", statistics.median(walls), "s")
        emit(case, mode, "speedup", statistics.median(speedups), "x")


if __name__ == "__main__":
    main()
