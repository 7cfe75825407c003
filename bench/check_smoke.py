"""Checks a results file written by `run.py --smoke`: every benchmark ran
without failure and produced every figure it should, each a positive
finite number; the round trips have their same-run ratios to the
calibration and to the direct-embedding baseline; the load during every
benchmark process was recorded; the asyncio benchmark and the numpy
scaling cases either produced figures or say why they are unavailable. No timing is checked. Exit status 0
only when all checks pass.

usage: python check_smoke.py RESULTS_JSON N_CONTEXTS OWNGIL(0|1)
"""

import json
import math
import sys


def main():
    path, n, owngil = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    with open(path) as f:
        doc = json.load(f)
    problems = ["benchmark process failed: %s" % fail["error"] for fail in doc["failures"]]
    have = {(x["bench"], x["case"], x["mode"], x["metric"]): x["median"] for x in doc["figures"]}
    modes = ["worker", "owngil"] if owngil else ["worker"]

    def expect(bench, case, mode, metric):
        value = have.get((bench, case, mode, metric))
        if value is None:
            problems.append("missing figure: %s / %s / %s / %s" % (bench, case, mode, metric))
        elif not (math.isfinite(value) and value > 0):
            problems.append("bad value %r for %s / %s / %s / %s" % (value, bench, case, mode,
                                                                   metric))

    # The calibration: every bare thread handoff (no Python, mode "threads").
    expect("handoff", "clock floor (empty request)", "threads", "p50_ns")
    for case in ("spin", "spin then futex", "futex, both parked", "condvar"):
        for metric in ("p50_ns", "p99_ns", "per_s"):
            expect("handoff", case, "threads", metric)
    for case in ("spin then futex", "futex, both parked"):
        if have.get(("handoff", case, "threads", "parks_per_round_trip")) is None:
            problems.append("missing parks per round trip for %s" % case)  # may be 0
    # Both sides of a fully parked handoff park on every round trip.
    parked = have.get(("handoff", "futex, both parked", "threads", "parks_per_round_trip"))
    if parked is not None and not 1.9 <= parked <= 2.1:
        problems.append("futex, both parked: %r parks per round trip, expected 2" % parked)

    for mode in modes:
        for case in ("call identity", "call operator.add", "call math.sqrt"):
            for metric in ("p50_ns", "p99_ns", "per_s", "limit_ns", "limit_per_s"):
                expect("roundtrip", case, mode, metric)
            # The direct-embedding baseline of the same call, and the
            # same-run ratios of the round trip to it and to the handoffs.
            for metric in ("p50_ns", "p99_ns", "per_s"):
                expect("embed", case, mode, metric)
            for vs in ("limit", "direct", "spin", "spin→futex", "parked", "condvar"):
                if not any(r["bench"] == "roundtrip" and r["case"] == case and
                           r["mode"] == mode and r["vs"] == vs and r["median"] > 0
                           for r in doc["ratios"]):
                    problems.append("missing ratio roundtrip / %s / %s ÷ %s" % (case, mode, vs))
        for metric in ("p50_ns", "p99_ns", "per_s", "limit_ns"):
            expect("eval", "eval x*y+1 with locals", mode, metric)
        expect("pipelined", "call identity, 1000 in flight", mode, "per_s")
        expect("pipelined", "call identity, 1000 in flight, submit_many", mode, "per_s")
        if mode == "worker":
            for metric in ("p50_ns", "p99_ns", "per_s"):
                expect("embed", "call identity, new thread state per call", mode, metric)
        for metric in ("per_s", "p50_ns", "p99_ns"):
            expect("concurrent", "50 threads over 2 contexts", mode, metric)
        # Pools against N hand-managed contexts, same run.
        tag = "%d contexts, 1000 in flight" % n
        for who in ("hand-managed", "pool least queued", "pool round robin"):
            expect("pool", "pipelined identity, %s, %s" % (who, tag), mode, "per_s")
        for who in ("pool least queued", "pool round robin"):
            expect("pool", "pipelined identity, %s, %s" % (who, tag), mode, "vs_hand")
        for who in ("hand-managed in turn", "pool least queued"):
            expect("pool", "sync identity, %s, %d contexts" % (who, n), mode, "p50_ns")
        expect("pool", "sync identity, hand-managed one context", mode, "p50_ns")
        expect("pool", "sync identity, pool least queued, %d contexts" % n, mode, "vs_hand")
        asyncio_figures = [k for k in have if k[0] == "asyncio" and k[2] == mode]
        asyncio_unavailable = [u for u in doc["unavailable"]
                               if u["bench"] == "asyncio" and u["mode"] == mode]
        if not asyncio_figures and not asyncio_unavailable:
            problems.append("asyncio %s: neither figures nor a reason" % mode)
        for u in asyncio_unavailable:
            if not u["reason"].strip():
                problems.append("asyncio %s: unavailable without a reason" % mode)

    # Process contexts beside the in-process modes, in one run.
    for mode in modes + ["process"]:
        for metric in ("p50_ns", "p99_ns", "per_s"):
            expect("process", "sync add", mode, metric)
        expect("process", "pipelined add", mode, "per_s")
        # Python talks to the host in every mode (bench_talk).
        expect("send", "pyctx.send to a C endpoint", mode, "per_s")
        for case in ("channel host->python->host", "sync call identity"):
            for metric in ("p50_ns", "p99_ns", "per_s"):
                expect("talk_roundtrip", case, mode, metric)

    # Process contexts at scale: start time and memory per context of every
    # mode; the numpy cases either measured for every mode or unavailable
    # with a reason (numpy exists only for some Pythons).
    for mode in modes + ["process"]:
        for metric in ("start_ms", "rss_kib"):
            expect("process_scaling", "context start", mode, metric)
    for shape in ("numpy, 64-element arrays", "numpy, 200k-element arrays"):
        case = "%s N=%d" % (shape, n)
        for mode in ("sequential", "worker", "process", "multiprocessing"):
            gone = [u for u in doc["unavailable"] if u["bench"] == "process_scaling" and
                    u["case"] == shape and u["mode"] == mode]
            if gone:
                if not gone[0]["reason"].strip():
                    problems.append("%s %s: unavailable without a reason" % (shape, mode))
                continue
            expect("process_scaling", case, mode, "wall_s")
            if mode != "sequential":
                expect("process_scaling", case, mode, "speedup")
    # Borrowed buffers: the three ways and the sum alone, for each mode.
    for mode in modes:
        kinds = [k[1][len("lent buffer "):] for k in have
                 if k[0] == "buffers" and k[2] == mode and k[1].startswith("lent buffer ")]
        if not kinds:
            problems.append("buffers %s: no lent-buffer figure" % mode)
        for rest in kinds:
            for way in ("lent buffer", "data inside Python", "sum alone in Python", "CBOR bytes"):
                expect("buffers", way + " " + rest, mode, "p50_ns")

    scaling_case = [k[1] for k in have if k[0] == "scaling"]
    case = scaling_case[0] if scaling_case else "?"
    if not case.endswith("N=%d" % n):
        problems.append("scaling case %r is not for N=%d" % (case, n))
    scaling_modes = ["sequential", "worker", "python threads", "python multiprocessing"]
    scaling_modes += ["owngil"] if owngil else []
    for mode in scaling_modes:
        expect("scaling", case, mode, "wall_s")
        expect("scaling", case, mode, "speedup")

    if owngil:
        for who in ("pyctx context", "bare CPython subinterpreter"):
            for alloc in ("default", "malloc"):
                c = "%s, allocator=%s" % (who, alloc)
                expect("context_cost", c, "owngil", "create_close_ms")
                if ("context_cost", c, "owngil", "rss_growth_per_cycle_mib") not in have:
                    problems.append("missing RSS growth for %s" % c)  # may be <= 0: no expect()

    if not doc["table"] or not doc["targets"]:
        problems.append("no table or no targets in the results")
    if not any(line.startswith("calibration, same runs") for line in doc["table"]):
        problems.append("no calibration line in the table")
    if not doc["processes"] or any(p["other_load_during_cpus"] is None
                                   for p in doc["processes"]):
        problems.append("the load during some benchmark process was not recorded")
    for p in problems:
        print("check_smoke: " + p)
    print("check_smoke: %d figures, %d problem(s)" % (len(have), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
