"""Runs every pyctx benchmark R times, takes medians, prints a table and
writes a JSON file of every run's values. Standard library only;
bench/run.sh builds the binaries and starts this with the Python pyctx
embeds.

Runs are interleaved (every benchmark once, then again: A B A B ...) so
that the noise of a shared machine spreads over all figures alike, and in
full runs each benchmark process first waits (up to --quiet-wait seconds)
for other load to drop; the other processes' load before and during each
benchmark process is recorded. Every comparison is a ratio of figures
measured in the same run, and its median over runs is reported.

Every run is calibrated: bench_handoff measures this machine's own thread
handoff limits (spinning and parked round trips) and bench_embed the same
Python calls made on the caller's own thread through the CPython C API;
both run right beside bench_roundtrip in every run, and the round-trip
figures are reported as same-run ratios to them.

The JSON goes to bench/results.json (tracked: the recorded run) only for a
full run of every benchmark; quick, smoke and --only runs write
BUILD_DIR/bench/results-PROFILE.json instead, unless --json says otherwise.

usage: run.py --build-dir DIR [--runs R | --quick | --smoke] [--only NAMES]
              [--n N] [--json PATH] [--quiet-wait SECONDS]
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Sizes per profile: full (default), quick (under ~1 minute) and smoke
# (seconds; used by the test script to check that every benchmark works).
PROFILES = {
    "full": {"runs": 5, "calls": 200000, "limit": 200000, "handoff_calls": 200000,
             "park_calls": 20000, "requests": 1000000,
             "sleepers": 10000, "sync_calls": 50000, "conc_calls": 4000,
             "fact_n": 20000, "repeat": 3, "rounds": 3, "cycles": 200,
             "buf_mib": "1,16,64", "buf_repeat": 5, "messages": 200000, "trips": 20000},
    "quick": {"runs": 2, "calls": 20000, "limit": 50000, "handoff_calls": 20000,
              "park_calls": 5000, "requests": 200000,
              "sleepers": 10000, "sync_calls": 10000, "conc_calls": 500,
              "fact_n": 20000, "repeat": 2, "rounds": 1, "cycles": 100,
              "buf_mib": "1,16,64", "buf_repeat": 2, "messages": 50000, "trips": 5000},
    "smoke": {"runs": 1, "calls": 500, "limit": 1000, "handoff_calls": 500,
              "park_calls": 100, "requests": 5000,
              "sleepers": 200, "sync_calls": 500, "conc_calls": 20,
              "fact_n": 2000, "repeat": 1, "rounds": 1, "cycles": 5,
              "buf_mib": "1", "buf_repeat": 1, "messages": 500, "trips": 100},
}

# Published figures of erlang_python, the closest existing system (their
# machine, faster than ours): reference only, never a same-run ratio.
ERLANG_PYTHON = {"worker": (2.5e3, 400e3), "owngil": (10.2e3, 98e3)}  # p50 ns, calls/s
# The handoff calibration cases (bench_handoff) and their short labels.
CALIBRATION = [("spin", "spin"), ("spin then futex", "spin→futex"),
               ("futex, both parked", "parked"), ("condvar", "condvar")]
# "Run interpreters in parallel" (2021 Language Summit), 4 CPUs, speedups.
SUMMIT_2021 = {"python threads": 1 / 1.5, "python multiprocessing": 3.6, "owngil": 3.4}


def plan(p, build, n):
    """The benchmark processes of one run: (name, argv, extra env)."""
    exe = lambda name: os.path.join(build, "bench", name)  # noqa: E731
    py = sys.executable
    # The calibration and the direct-embedding baseline run right beside the
    # round trip they calibrate, so that all three see the same moment.
    items = [
        ("handoff", [exe("bench_handoff"), "--calls", p["handoff_calls"],
                     "--park-calls", p["park_calls"]], {}),
        ("roundtrip", [exe("bench_roundtrip"), "--calls", p["calls"],
                       "--limit-number", p["limit"]], {}),
        ("embed", [exe("bench_embed"), "--calls", p["calls"]], {}),
        ("async", [exe("bench_async"), "--requests", p["requests"],
                   "--sleepers", p["sleepers"], "--sync-calls", p["sync_calls"]], {}),
        ("concurrent", [exe("bench_concurrent"), "--calls", p["conc_calls"]], {}),
        ("process", [exe("bench_process"), "--calls", p["calls"],
                     "--requests", p["requests"]], {}),
        ("process_scaling", [exe("bench_process_scaling"), "--n", n,
                             "--rounds", p["rounds"]], {}),
        ("process_scaling", [py, os.path.join(HERE, "numpy_baselines.py"), "--n", n,
                             "--rounds", p["rounds"]], {}),
        ("pool", [exe("bench_pool"), "--n", n, "--requests", p["requests"] // 2,
                  "--rounds", max(p["rounds"], 3), "--sync-calls", p["sync_calls"] // 2], {}),
        ("talk", [exe("bench_talk"), "--mode", "all", "--messages", p["messages"],
                  "--trips", p["trips"]], {}),
        ("buffers", [exe("bench_buffers"), "--sizes-mib", p["buf_mib"],
                     "--repeat", p["buf_repeat"]], {}),
        ("scaling", [exe("bench_scaling"), "--n", n, "--fact-n", p["fact_n"],
                     "--repeat", p["repeat"], "--rounds", p["rounds"]], {}),
        ("scaling", [py, os.path.join(HERE, "scaling_baselines.py"), "--n", n,
                     "--fact-n", p["fact_n"], "--repeat", p["repeat"],
                     "--rounds", p["rounds"]], {}),
    ]
    for alloc in ("default", "malloc"):
        items.append(("context_cost", [exe("bench_context_cost"), "--allocator", alloc,
                                       "--cycles", p["cycles"]], {}))
        env = {"PYTHONMALLOC": "malloc"} if alloc == "malloc" else {}
        items.append(("context_cost", [py, os.path.join(HERE, "bare_subinterpreter.py"),
                                       "--allocator", alloc, "--cycles", p["cycles"]], env))
    return [(name, [str(a) for a in argv], env) for name, argv, env in items]


def run_one(argv, env, timeout):
    """Runs one benchmark process; returns (records, error or None, the
    CPUs other processes kept busy while it ran or None)."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONMALLOC", None)
    full_env.update(env)
    stat0, usage0, t0 = cpu_jiffies(), resource.getrusage(resource.RUSAGE_CHILDREN), \
        time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=full_env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], "timed out after %d s" % timeout, None
    except OSError as e:
        return [], str(e), None
    other = other_load(stat0, cpu_jiffies(), usage0,
                       resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - t0)
    records = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return records, "exit code %d: %s" % (proc.returncode, tail), other
    return records, None, other


def cpu_jiffies():
    """(all jiffies, idle jiffies) of the whole machine from /proc/stat, or
    None where that cannot be read."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    return sum(fields[:8]), fields[3] + (fields[4] if len(fields) > 4 else 0)


def other_load(stat0, stat1, usage0, usage1, wall):
    """CPUs kept busy by processes other than the benchmark while it ran:
    the machine's busy CPU time over that interval minus the benchmark's
    own (its rusage), divided by the wall time."""
    if stat0 is None or stat1 is None or wall <= 0:
        return None
    busy_s = ((stat1[0] - stat0[0]) - (stat1[1] - stat0[1])) / os.sysconf("SC_CLK_TCK")
    own_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return max(0.0, (busy_s - own_s) / wall)


def busy_cpus(interval=0.5):
    """How many CPUs other processes kept busy over `interval` seconds
    (from /proc/stat), or None where that cannot be read."""
    s0 = cpu_jiffies()
    time.sleep(interval)
    s1 = cpu_jiffies()
    if s0 is None or s1 is None:
        return None
    (total0, idle0), (total1, idle1) = s0, s1
    if total1 == total0:
        return 0.0
    return (1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def wait_for_quiet(max_wait, threshold=0.5):
    """On a shared machine, waits (up to `max_wait` s) until other processes
    use less than `threshold` CPUs; returns the last busy figure seen."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = busy_cpus()
        if busy is None or busy < threshold or time.monotonic() >= deadline:
            return busy


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(),
            "loadavg_start": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


class Figures:
    """Values of every (bench, case, mode, metric) across runs."""

    def __init__(self):
        self.values = {}
        self.by_run = {}
        self.units = {}
        self.unavailable = {}
        self.python = set()

    def add(self, rec, run):
        if "python" in rec:  # the handoff calibration involves no Python
            self.python.add(rec["python"])
        key3 = (rec["bench"], rec["case"], rec["mode"])
        if "unavailable" in rec:
            self.unavailable[key3] = rec["unavailable"]
            return
        key = key3 + (rec["metric"],)
        self.values.setdefault(key, []).append(float(rec["value"]))
        self.by_run.setdefault(key, {})[run] = float(rec["value"])
        self.units[key] = rec["unit"]

    def median(self, bench, case, mode, metric):
        v = self.values.get((bench, case, mode, metric))
        return statistics.median(v) if v else None

    def spread(self, bench, case, mode, metric):
        """(min, max) over runs, or None."""
        v = self.values.get((bench, case, mode, metric))
        return (min(v), max(v)) if v else None

    def ratio(self, a, b):
        """The same-run ratio a/b of two figures (each a (bench, case, mode,
        metric) key): one ratio per run in which both were measured, and
        {"median", "min", "max", "runs"} of those, or None."""
        ra, rb = self.by_run.get(a, {}), self.by_run.get(b, {})
        per_run = [ra[r] / rb[r] for r in sorted(ra) if r in rb and rb[r] > 0]
        if not per_run:
            return None
        return {"median": statistics.median(per_run), "min": min(per_run),
                "max": max(per_run), "runs": len(per_run)}

    def difference(self, a, minus):
        """Median over runs of a - sum(minus) (keys as in ratio()), taking
        only runs in which all were measured, or None."""
        ra = self.by_run.get(a, {})
        others = [self.by_run.get(k, {}) for k in minus]
        per_run = [ra[r] - sum(o[r] for o in others) for r in sorted(ra)
                   if all(r in o for o in others)]
        return statistics.median(per_run) if per_run else None

    def best(self, bench, case, mode, metric, higher_is_better):
        """The best single run: on a shared machine it shows what the code
        does when left alone (the median stays the figure of record)."""
        v = self.values.get((bench, case, mode, metric))
        return (max(v) if higher_is_better else min(v)) if v else None

    def runs(self, bench, case, mode, metric):
        return len(self.values.get((bench, case, mode, metric), []))

    def cases(self, bench):
        seen = []
        for b, c, _, _ in self.values:
            if b == bench and c not in seen:
                seen.append(c)
        for b, c, _ in self.unavailable:
            if b == bench and c not in seen:
                seen.append(c)
        return seen

    def modes(self, bench, case):
        seen = []
        for b, c, m, _ in self.values:
            if b == bench and c == case and m not in seen:
                seen.append(m)
        return seen


# ---- formatting ------------------------------------------------------------

def fmt_ns(ns):
    if ns is None:
        return "-"
    return "%.2f µs" % (ns / 1e3) if abs(ns) >= 1000 else "%.0f ns" % ns


def fmt_range(sp):
    """(min, max) over runs of a time in ns."""
    if sp is None:
        return "-"
    return fmt_ns(sp[0]) if sp[0] == sp[1] else "%s–%s" % (fmt_ns(sp[0]), fmt_ns(sp[1]))


def fmt_rate(r):
    if r is None:
        return "-"
    return "%.2fM/s" % (r / 1e6) if r >= 1e6 else "%.0fK/s" % (r / 1e3)


def fmt_ratio(r):
    """A same-run ratio from Figures.ratio(): median, and the range over
    runs when there was more than one."""
    if r is None:
        return "-"
    if r["runs"] == 1:
        return "%.2f×" % r["median"]
    return "%.2f× (%.2f–%.2f)" % (r["median"], r["min"], r["max"])


def fmt(v, spec="%.2f"):
    return "-" if v is None else spec % v


def table(title, header, rows):
    out = ["", "## " + title, ""]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else []
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    if rows:
        out.append(line(header))
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out.extend(line(r) for r in rows)
    else:
        out.append("(no figures)")
    return out


class Report:
    """Builds the table text and the target verdicts from the figures."""

    def __init__(self, figs, n, load):
        self.f = figs
        self.n = n
        self.load = load  # other processes' load during the benchmarks, or None
        self.lines = []
        self.targets = []
        self.ratios = []

    def target(self, name, value, op, limit, label):
        if value is None:
            met = None
        else:
            met = value <= limit if op == "<=" else value >= limit
        self.targets.append({"target": name, "value": value, "op": op, "limit": limit,
                             "met": met})
        return label + (" ✓" if met else " ✗" if met is False else " ?")

    def unavailable_rows(self, bench, width):
        rows = []
        for (b, c, m), why in self.f.unavailable.items():
            if b == bench:
                rows.append([c, m, "unavailable: " + why] + [""] * (width - 3))
        return rows

    # ---- calibration -------------------------------------------------------

    def hk(self, case, metric="p50_ns"):
        """The key of a handoff calibration figure."""
        return ("handoff", case, "threads", metric)

    def calibration_line(self):
        """This run's handoff limits in one line, printed under every table."""
        parts = []
        for case, label in CALIBRATION:
            v = self.f.median(*self.hk(case))
            if v is not None:
                parts.append("%s %s" % (label, fmt_ns(v)))
        if not parts:
            return None
        line = "calibration, same runs (p50 round trip between two threads): " + \
            " · ".join(parts)
        if self.load:
            line += " · other load during the benchmarks: median %.2f, max %.2f CPUs" % (
                self.load["median"], self.load["max"])
        return line

    def note_calibration(self):
        line = self.calibration_line()
        if line:
            self.lines += ["", line]

    def calibration(self):
        f, rows = self.f, []
        for case, _ in [("clock floor (empty request)", "")] + CALIBRATION:
            p50 = f.median(*self.hk(case))
            if p50 is None:
                continue
            sp = f.spread(*self.hk(case))
            parks = f.median(*self.hk(case, "parks_per_round_trip"))
            rows.append([case, fmt_ns(p50), fmt_range(sp),
                         fmt_ns(f.median(*self.hk(case, "p99_ns"))),
                         fmt_rate(f.median(*self.hk(case, "per_s"))),
                         "-" if parks is None else "%.3f" % parks, f.runs(*self.hk(case))])
        budget = f.median(*self.hk("spin then futex", "spin_budget_ns"))
        self.lines += table("0. Calibration: this machine's thread handoff (bench_handoff, "
                            "same runs)", ["round trip", "p50", "p50 range over runs", "p99",
                                           "round trips/s", "parks per round trip", "runs"],
                            rows)
        if rows:
            self.lines += ["", "Timed by the same loop as every pyctx round trip (clock read "
                           "around each; the clock floor is that read alone)."
                           + ("" if budget is None else " 'spin then futex' spins up to "
                              "%s before parking." % fmt_ns(budget))]
        # The call itself: the in-context limit and the direct C-API call.
        rows = []
        for case in self.f.cases("roundtrip"):
            for mode in self.f.modes("roundtrip", case):
                lim = f.median("roundtrip", case, mode, "limit_ns")
                direct = f.median("embed", case, mode, "p50_ns")
                rows.append([case, mode, fmt_ns(lim), fmt_ns(direct)])
        self.lines += table("0. Calibration: the call itself (same runs)",
                            ["case", "mode", "limit: timeit in the context (no handoff, "
                             "no GIL switch)", "direct: C API on the caller's thread (p50)"],
                            rows)

    def embed(self):
        f, rows = self.f, []
        for case in f.cases("embed"):
            for mode in f.modes("embed", case):
                g = lambda m: f.median("embed", case, mode, m)  # noqa: E731
                sp = f.spread("embed", case, mode, "p50_ns")
                how = ("PyGILState_Ensure/Release per call" if mode == "worker" else
                       "own subinterpreter, PyEval_RestoreThread/SaveThread per call")
                rows.append([case, mode, how, fmt_ns(g("p50_ns")),
                             fmt_range(sp), fmt_ns(g("p99_ns")),
                             fmt_rate(g("per_s")), f.runs("embed", case, mode, "p50_ns")])
        rows += self.unavailable_rows("embed", 8)
        self.lines += table("1b. Direct-embedding baseline: the same call on the caller's "
                            "thread through the CPython C API (bench_embed, same runs)",
                            ["case", "mode", "how", "p50", "p50 range over runs", "p99",
                             "calls/s", "runs"], rows)
        self.note_calibration()

    def sync(self, bench, title, unit_word, rate_target):
        f = self.f
        rows = []
        for case in f.cases(bench):
            for mode in f.modes(bench, case):
                g = lambda m: f.median(bench, case, mode, m)  # noqa: E731
                key = (bench, case, mode, "p50_ns")
                p50, rate, lim = g("p50_ns"), g("per_s"), g("limit_ns")
                sp = f.spread(*key)
                ratios = {"limit": f.ratio(key, (bench, case, mode, "limit_ns"))}
                if bench == "roundtrip":
                    ratios["direct"] = f.ratio(key, ("embed", case, mode, "p50_ns"))
                for hcase, label in CALIBRATION:
                    ratios[label] = f.ratio(key, self.hk(hcase))
                for vs, r in ratios.items():
                    if r is not None:
                        self.ratios.append(dict(bench=bench, case=case, mode=mode,
                                                vs=vs, **r))
                tgt = []
                if bench == "roundtrip":
                    tgt.append(self.target("1. %s %s p50 <= 1 µs" % (case, mode), p50, "<=",
                                           1000, "p50≤1µs"))
                    if ratios["direct"] is not None:
                        tgt.append(self.target(
                            "issue 17.3: %s %s p50 <= 1.5× direct C-API call (same run)" %
                            (case, mode), ratios["direct"]["median"], "<=", 1.5, "≤1.5×direct"))
                tgt.append(self.target("%s %s %s >= %s" % (bench, case, mode, fmt_rate(rate_target)),
                                       rate, ">=", rate_target, "≥" + fmt_rate(rate_target)))
                best = "%s, %s" % (fmt_ns(f.best(bench, case, mode, "p50_ns", False)),
                                   fmt_rate(f.best(bench, case, mode, "per_s", True)))
                # What is neither the bare handoff nor the call itself.
                rest = f.difference(key, [self.hk("spin"), (bench, case, mode, "limit_ns")])
                row = [case, mode, fmt_ns(p50),
                       fmt_range(sp),
                       fmt_ns(g("p99_ns")), fmt_rate(rate), fmt_ns(lim), fmt_ratio(ratios["limit"])]
                if bench == "roundtrip":
                    row += [fmt_ns(f.median("embed", case, mode, "p50_ns")),
                            fmt_ratio(ratios["direct"])]
                row += [fmt_ratio(ratios[label]) for _, label in CALIBRATION]
                row += [fmt_ns(rest), f.runs(bench, case, mode, "p50_ns"), " ".join(tgt), best]
                rows.append(row)
        header = ["case", "mode", "p50", "p50 range", "p99", unit_word, "limit/call",
                  "÷limit"]
        if bench == "roundtrip":
            header += ["direct", "÷direct"]
        header += ["÷" + label for _, label in CALIBRATION]
        header += ["p50−spin−limit", "runs", "target (on medians)", "best run"]
        rows += self.unavailable_rows(bench, len(header))
        self.lines += table(title, header, rows)
        self.lines += ["", "÷x: median over runs of the same-run ratio p50 ÷ x (x: the limit, "
                       "the direct C-API call, or a handoff of table 0)."]
        if bench == "roundtrip":
            self.lines += ["Reference, not a same-run ratio: erlang_python publishes " +
                           "; ".join("%s %s, %s" % (m, fmt_ns(p), fmt_rate(r))
                                     for m, (p, r) in ERLANG_PYTHON.items()) +
                           " (their machine)."]
        self.note_calibration()

    def pipelined(self):
        f, rows = self.f, []
        for case in f.cases("pipelined"):
            for mode in f.modes("pipelined", case):
                rate = f.median("pipelined", case, mode, "per_s")
                rows.append([case, mode, fmt_rate(rate), f.runs("pipelined", case, mode, "per_s"),
                             self.target("3. pipelined %s%s >= 2M/s" % (
                                 mode, ", submit_many" if "submit_many" in case else ""),
                                 rate, ">=", 2e6, "≥2M/s"),
                             fmt_rate(f.best("pipelined", case, mode, "per_s", True))])
        self.lines += table("3. Async pipelined, one caller", ["case", "mode", "completions/s",
                                                               "runs", "target", "best run"],
                            rows)

    def concurrent(self):
        f, rows = self.f, []
        for case in f.cases("concurrent"):
            for mode in f.modes("concurrent", case):
                g = lambda m: f.median("concurrent", case, mode, m)  # noqa: E731
                rows.append([case, mode, fmt_rate(g("per_s")), fmt_ns(g("p50_ns")),
                             fmt_ns(g("p99_ns")), f.runs("concurrent", case, mode, "per_s")])
        self.lines += table("4. Concurrent callers (sync identity calls)",
                            ["case", "mode", "total calls/s", "p50", "p99", "runs"], rows)

    def pool(self):
        f, rows = self.f, []
        for case in f.cases("pool"):
            for mode in f.modes("pool", case):
                g = lambda m: f.median("pool", case, mode, m)  # noqa: E731
                figure = fmt_rate(g("per_s")) if g("per_s") is not None else fmt_ns(g("p50_ns"))
                vs = g("vs_hand")
                tgt = ""
                if vs is not None and "pipelined" in case:
                    tgt = self.target("4b. %s %s >= 0.95× hand-managed" % (case, mode), vs,
                                      ">=", 0.95, "≥0.95×")
                rows.append([case, mode, figure, fmt(vs, "%.2f×") if vs is not None else "",
                             f.runs("pool", case, mode, "per_s") or
                             f.runs("pool", case, mode, "p50_ns"), tgt])
        self.lines += table("4b. Pools against N hand-managed contexts (same work, interleaved)",
                            ["case", "mode", "completions/s or p50", "vs hand", "runs",
                             "target"], rows)
        self.lines += ["", "vs hand: pool ÷ hand-managed, same run (pipelined: rate, higher "
                       "is better; sync: p50, lower is better)."]

    def scaling(self):
        f, rows = self.f, []
        for case in f.cases("scaling"):
            modes = f.modes("scaling", case)
            order = ["sequential", "python sequential", "python threads",
                     "python multiprocessing", "worker", "owngil"]
            for mode in sorted(modes, key=lambda m: order.index(m) if m in order else 99):
                wall = f.median("scaling", case, mode, "wall_s")
                sp = f.median("scaling", case, mode, "speedup")
                tgt = ""
                if mode == "owngil":
                    tgt = self.target("5. owngil speedup >= %.1f× (0.9 × N)" % (0.9 * self.n),
                                      sp, ">=", 0.9 * self.n, "≥%.1f×" % (0.9 * self.n))
                    mp = f.median("scaling", case, "python multiprocessing", "wall_s")
                    mp_sp = f.median("scaling", case, "python multiprocessing", "speedup")
                    if mp and wall:
                        tgt += " " + self.target("5. owngil at least as fast as multiprocessing"
                                                 " (mp wall ÷ owngil wall >= 1)", mp / wall,
                                                 ">=", 1.0, "mp÷owngil wall %.2f" % (mp / wall))
                    if mp_sp and sp:
                        tgt += "; owngil÷mp speedup %.2f" % (sp / mp_sp)
                ref = SUMMIT_2021.get(mode)
                base = "own sequential" if mode.startswith("python") else "pyctx sequential"
                best = f.best("scaling", case, mode, "speedup", True)
                rows.append([case, mode, fmt(wall, "%.3f s"),
                             fmt(sp, "%.2f×") + ("" if mode.endswith("sequential") else
                                                 " (vs %s)" % base),
                             f.runs("scaling", case, mode, "wall_s"), tgt,
                             "" if mode.endswith("sequential") else fmt(best, "%.2f×"),
                             "%.1f×" % ref if ref else ""])
        self.lines += table("5. Parallel scaling (speedup over sequential, same run)",
                            ["case", "mode", "wall", "speedup", "runs", "target",
                             "best run", "2021 summit, 4 CPUs"], rows)

    def context_cost(self):
        f, rows = self.f, []
        for case in f.cases("context_cost"):
            for mode in f.modes("context_cost", case):
                ms = f.median("context_cost", case, mode, "create_close_ms")
                mib = f.median("context_cost", case, mode, "rss_growth_per_cycle_mib")
                tgt = ""
                if case.startswith("pyctx"):
                    tgt = self.target("6. %s RSS growth <= 0.25 MiB/cycle" % case, mib, "<=",
                                      0.25, "≤0.25MiB")
                rows.append([case, mode, fmt(ms, "%.2f ms"), fmt(mib, "%.3f MiB"),
                             f.runs("context_cost", case, mode, "create_close_ms"), tgt])
        rows += self.unavailable_rows("context_cost", 6)
        self.lines += table("6. Context cost (create+close, RSS growth per cycle)",
                            ["case", "mode", "create+close p50", "RSS growth/cycle", "runs",
                             "target"], rows)

    def asyncio(self):
        f, rows = self.f, []
        for case in f.cases("asyncio"):
            for mode in f.modes("asyncio", case):
                g = lambda m: f.median("asyncio", case, mode, m)  # noqa: E731
                runs = f.runs("asyncio", case, mode, "wall_s") or f.runs(
                    "asyncio", case, mode, "idle_ratio")
                if g("wall_s") is not None:
                    rows.append([case, mode, fmt(g("wall_s"), "%.3f s"), runs,
                                 self.target("7. %s %s < 0.5 s" % (case, mode), g("wall_s"),
                                             "<=", 0.5, "<0.5s")])
                if g("idle_ratio") is not None:
                    rows.append([case, mode, "p50 %s (loop idle) vs %s (no loop): %.2f×" % (
                        fmt_ns(g("p50_idle_ns")), fmt_ns(g("p50_control_ns")), g("idle_ratio")),
                        runs, self.target("7. sync p50 with idle loop %s%s <= 1.10× no-loop "
                                          "context" % (mode, ", one spinning thread"
                                                       if "spinning" in case else ""),
                                          g("idle_ratio"), "<=", 1.10, "≤1.10×")])
        rows += self.unavailable_rows("asyncio", 5)
        self.lines += table("7. asyncio on one context", ["case", "mode", "figure", "runs",
                                                          "target"], rows)

    def process(self):
        f, rows = self.f, []
        order = ["worker", "owngil", "process"]
        for case in f.cases("process"):
            for mode in sorted(f.modes("process", case), key=lambda m: order.index(m)
                               if m in order else 99):
                g = lambda m: f.median("process", case, mode, m)  # noqa: E731
                target = ""
                if mode == "process" and case == "sync add":
                    target = self.target("8. process sync p50 <= 3 µs", g("p50_ns"), "<=", 3e3,
                                         "≤3µs")
                elif mode == "process":
                    target = self.target("8. process pipelined >= 1M/s", g("per_s"), ">=", 1e6,
                                         "≥1M/s")
                rows.append([case, mode, fmt_ns(g("p50_ns")), fmt_ns(g("p99_ns")),
                             fmt_rate(g("per_s")), f.runs("process", case, mode, "per_s"),
                             target])
        rows += self.unavailable_rows("process", 7)
        self.lines += table("8. Process contexts against worker and owngil (operator.add)",
                            ["case", "mode", "p50", "p99", "requests/s", "runs", "target"], rows)

    def buffers(self):
        """Borrowed buffers: lent vs data inside Python vs CBOR, same runs."""
        f, rows = self.f, []
        for case in f.cases("buffers"):
            if not case.startswith("lent buffer "):
                continue
            rest = case[len("lent buffer "):]
            for mode in f.modes("buffers", case):
                key = lambda c: ("buffers", c + " " + rest, mode, "p50_ns")  # noqa: E731
                vs_inside = f.ratio(key("lent buffer"), key("data inside Python"))
                cbor_vs = f.ratio(key("CBOR bytes"), key("lent buffer"))
                for vs, r in (("data inside Python", vs_inside), ("CBOR bytes ÷", cbor_vs)):
                    if r is not None:
                        self.ratios.append(dict(bench="buffers", case=case, mode=mode, vs=vs, **r))
                tgt = self.target("issue 13: %s %s <= 1.2× the sum on data inside Python" %
                                  (rest, mode), vs_inside and vs_inside["median"], "<=", 1.2,
                                  "≤1.2×")
                rows.append([rest, mode, fmt_ns(f.median(*key("lent buffer"))),
                             fmt_ns(f.median(*key("data inside Python"))),
                             fmt_ns(f.median(*key("sum alone in Python"))),
                             fmt_ns(f.median(*key("CBOR bytes"))), fmt_ratio(vs_inside),
                             fmt_ratio(cbor_vs), f.runs(*key("lent buffer")), tgt])
        self.lines += table("9. Borrowed buffers: host array -> Python sum -> result "
                            "(bench_buffers, same runs)",
                            ["size, sum", "mode", "lent buffer", "data inside Python",
                             "sum alone (timeit)", "CBOR bytes", "lent ÷ inside", "CBOR ÷ lent",
                             "runs", "target"], rows)

    def process_scaling(self):
        f, rows = self.f, []
        order = ["sequential", "multiprocessing", "worker", "owngil", "process"]
        for case in f.cases("process_scaling"):
            for mode in sorted(f.modes("process_scaling", case),
                               key=lambda m: order.index(m) if m in order else 99):
                g = lambda m: f.median("process_scaling", case, mode, m)  # noqa: E731
                if case == "context start":
                    start, rss = g("start_ms"), g("rss_kib")
                    figure = "%s ms to start, %s MiB per context" % (
                        "%.1f" % start if start is not None else "-",
                        "%.1f" % (rss / 1024) if rss is not None else "-")
                else:
                    wall, sp = g("wall_s"), g("speedup")
                    figure = "%s s%s" % ("%.3f" % wall if wall is not None else "-",
                                         ", %.2f× sequential" % sp if sp is not None else "")
                rows.append([case, mode, figure])
        rows += self.unavailable_rows("process_scaling", 3)
        self.lines += table("10. Process contexts: numpy in parallel, start time and memory",
                            ["case", "mode", "figure"], rows)

    def talk(self):
        """Python talks to the host (bench_talk): pyctx.send to an endpoint,
        and a channel round trip against a sync call, same runs."""
        f, rows = self.f, []
        order = ["worker", "owngil", "process"]
        send_case = "pyctx.send to a C endpoint"
        chan_case, call_case = "channel host->python->host", "sync call identity"
        modes = set(f.modes("send", send_case)) | set(f.modes("talk_roundtrip", chan_case))
        for mode in sorted(modes, key=lambda m: order.index(m) if m in order else 99):
            chan = ("talk_roundtrip", chan_case, mode, "p50_ns")
            call = ("talk_roundtrip", call_case, mode, "p50_ns")
            r = f.ratio(chan, call)
            if r is not None:
                self.ratios.append(dict(bench="talk_roundtrip", case=chan_case, mode=mode,
                                        vs=call_case, **r))
            rows.append([mode, fmt_rate(f.median("send", send_case, mode, "per_s")),
                         fmt_ns(f.median(*chan)), fmt_ns(f.median(*call)), fmt_ratio(r),
                         f.runs("send", send_case, mode, "per_s")])
        rows += self.unavailable_rows("send", 6)
        self.lines += table("11. Python talks to the host: pyctx.send and channels (bench_talk)",
                            ["mode", "pyctx.send msgs/s", "channel round trip p50",
                             "sync call p50", "channel ÷ call", "runs"], rows)

    def build(self, ran):
        """The tables of the benchmarks in `ran` (names as in plan())."""
        if "handoff" in ran or "roundtrip" in ran:
            self.calibration()
        if "roundtrip" in ran:
            self.sync("roundtrip", "1. Sync round trip, one calling thread", "calls/s", 1e6)
        if "embed" in ran:
            self.embed()
        if "roundtrip" in ran:
            self.sync("eval", "2. Eval with locals, one calling thread", "evals/s", 500e3)
        for name, part in (("async", self.pipelined), ("concurrent", self.concurrent),
                           ("pool", self.pool), ("scaling", self.scaling),
                           ("context_cost", self.context_cost), ("async", self.asyncio),
                           ("process", self.process), ("buffers", self.buffers),
                           ("process_scaling", self.process_scaling), ("talk", self.talk)):
            if name in ran:
                part()
                self.note_calibration()
        return self.lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--runs", type=int, help="runs per benchmark (default 5; quick 2)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 2 runs (< ~1 min)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 run: checks only")
    ap.add_argument("--only", help="comma-separated: handoff,roundtrip,embed,async,pool,"
                                   "concurrent,process,process_scaling,scaling,context_cost,"
                                   "buffers,talk")
    ap.add_argument("--n", type=int, default=os.cpu_count(), help="contexts for scaling")
    ap.add_argument("--json", help="where to write every run's values (default: "
                                   "bench/results.json for a full run of everything, else "
                                   "BUILD_DIR/bench/results-PROFILE.json)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per benchmark process")
    ap.add_argument("--quiet-wait", type=float,
                    help="before each benchmark process wait up to this many seconds for "
                         "other load to drop below 0.5 CPU (default 30 for full runs, else 0)")
    args = ap.parse_args()
    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    p = PROFILES[profile]
    runs = args.runs or p["runs"]
    if runs < 1 or args.n < 1:
        ap.error("--runs and --n must be >= 1")
    items = plan(p, os.path.abspath(args.build_dir), args.n)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name for name, _, _ in items}
        if unknown:
            ap.error("unknown benchmark(s): " + ", ".join(sorted(unknown)))
        items = [it for it in items if it[0] in wanted]

    # Only a full run of every benchmark replaces the recorded (tracked)
    # results; anything smaller goes to the (untracked) build directory.
    if args.json is None:
        args.json = (os.path.join(HERE, "results.json") if profile == "full" and not args.only
                     else os.path.join(os.path.abspath(args.build_dir), "bench",
                                       "results-%s.json" % profile))
    quiet_wait = args.quiet_wait if args.quiet_wait is not None else (
        30.0 if profile == "full" else 0.0)
    info = machine()
    figs = Figures()
    failures = []
    busy_seen = []
    processes = []
    for r in range(runs):
        for name, argv, env in items:
            prog = argv[1] if argv[0] == sys.executable else argv[0]
            busy = wait_for_quiet(quiet_wait) if quiet_wait > 0 else None
            if busy is not None:
                busy_seen.append(busy)
            print("run %d/%d: %s (%s)%s" % (r + 1, runs, name, os.path.basename(prog),
                                            "" if busy is None else
                                            ", other load %.2f CPUs" % busy),
                  file=sys.stderr, flush=True)
            records, err, during = run_one(argv, env, args.timeout)
            processes.append({"run": r + 1, "bench": name, "program": os.path.basename(prog),
                              "other_load_before_cpus": busy, "other_load_during_cpus": during})
            for rec in records:
                figs.add(rec, r)
            if err:
                failures.append({"run": r + 1, "argv": argv, "error": err})
                print("  FAILED: " + err, file=sys.stderr, flush=True)
    info["loadavg_end"] = os.getloadavg()
    if busy_seen:
        info["other_load_cpus_before_each"] = {"min": min(busy_seen), "max": max(busy_seen),
                                               "median": statistics.median(busy_seen)}
    during = [p["other_load_during_cpus"] for p in processes
              if p["other_load_during_cpus"] is not None]
    load = None
    if during:
        load = {"min": min(during), "max": max(during), "median": statistics.median(during)}
        info["other_load_cpus_during_each"] = load

    report = Report(figs, args.n, load)
    lines = report.build({name for name, _, _ in items})
    pythons = ", ".join(sorted(figs.python)) or "?"
    print("# pyctx benchmarks: Python %s, profile %s, medians of %d run(s) per figure" %
          (pythons, profile, runs))
    print("# machine: %s, %s CPUs, %s GiB, load %.2f -> %.2f" % (
        info.get("cpu", "?"), info["nproc"], info.get("mem_gib", "?"),
        info["loadavg_start"][0], info["loadavg_end"][0]))
    if busy_seen:
        print("# other processes' load before each benchmark (CPUs): median %.2f, max %.2f" % (
            statistics.median(busy_seen), max(busy_seen)))
    if load:
        print("# other processes' load while each benchmark ran (CPUs): median %.2f, max %.2f"
              % (load["median"], load["max"]))
    cal = report.calibration_line()
    if cal:
        print("# " + cal)
    print("# 'limit' = the same Python work called directly on one thread (timeit, no "
          "handoff), measured inside the context in the same run")
    print("\n".join(lines))
    met = [t for t in report.targets if t["met"]]
    print("\ntargets met: %d of %d" % (len(met), len(report.targets)))
    for fail in failures:
        print("FAILED (run %d): %s: %s" % (fail["run"], " ".join(fail["argv"]), fail["error"]))

    figures = []
    for (b, c, m, metric), values in sorted(figs.values.items()):
        figures.append({"bench": b, "case": c, "mode": m, "metric": metric,
                        "unit": figs.units[(b, c, m, metric)],
                        "median": statistics.median(values), "min": min(values),
                        "max": max(values), "runs": len(values), "values": values})
    doc = {"date": datetime.date.today().isoformat(), "python": sorted(figs.python),
           "profile": profile, "runs": runs, "machine": info, "figures": figures,
           "unavailable": [{"bench": b, "case": c, "mode": m, "reason": why}
                           for (b, c, m), why in figs.unavailable.items()],
           "targets": report.targets, "failures": failures, "ratios": report.ratios,
           "processes": processes,
           "table": lines}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1, default=lambda x: None if isinstance(x, float) and
                  math.isnan(x) else x)
    print("wrote " + args.json)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
