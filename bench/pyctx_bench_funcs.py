"""Python side of the pyctx benchmarks.

Every benchmark imports this one module, inside pyctx contexts and in the
plain-Python baselines alike, so that all modes run exactly the same code.
"""

import asyncio
import math
import operator
import timeit


def identity(x):
    """The trivial call of benchmark 1: returns its argument."""
    return x


def direct_call_ns(target, number):
    """The no-handoff limit: ns per call of `target(2.0)` (for "add":
    `operator.add(2.0, 3.0)`) made directly on this thread (timeit, best of
    5 repeats), where target is "identity", "add" or "sqrt". This is the
    floor any cross-thread call has to add to."""
    fn = {"identity": identity, "add": operator.add, "sqrt": math.sqrt}[target]
    stmt = "f(x, y)" if target == "add" else "f(x)"
    timer = timeit.Timer(stmt, globals={"f": fn, "x": 2.0, "y": 3.0})
    return min(timer.repeat(repeat=5, number=number)) / number * 1e9


def factorial(n):
    """Pure-Python factorial: CPU-bound bytecode holding the GIL."""
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result


def factorial_job(n, repeat):
    """One unit of the scaling benchmark: `repeat` factorials of `n`.
    Returns a small checkable value instead of the huge integer."""
    bits = 0
    for _ in range(repeat):
        bits = factorial(n).bit_length()
    return bits


async def sleep_100ms():
    """The coroutine of benchmark 7: awaits 0.1 s on the context's loop."""
    await asyncio.sleep(0.1)


def direct_eval_ns(expression, number):
    """The no-handoff limit of benchmark 2: ns per `eval()` of the compiled
    expression with the same locals, made directly on this thread."""
    code = compile(expression, "<bench>", "eval")
    timer = timeit.Timer("ev(c, g, {'x': 3, 'y': 4})",
                         globals={"ev": eval, "c": code, "g": {}})
    return min(timer.repeat(repeat=5, number=number)) / number * 1e9


def numpy_job(size, repeat):
    """One unit of the numpy scaling benchmark (bench_process_scaling):
    `repeat` rounds of elementwise numpy work on an array of `size` floats.
    Small arrays put most of the time in the Python-level calls (under the
    GIL); large ones in numpy's loops (which run with the GIL released).
    Returns a checksum that is the same wherever it runs. Imports numpy on
    first use, so the module stays importable where numpy is missing."""
    import numpy as np
    a = np.linspace(0.0, 1.0, size)
    total = 0.0
    for _ in range(repeat):
        a = np.sin(a) * 0.5 + 0.25
        total += float(a[size // 2])
    return round(total, 9)


def numpy_available():
    """1 when numpy imports in this interpreter, else 0."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return 0
    return 1


# ---- borrowed buffers (bench_buffers) -------------------------------------

def buffer_sum_kind():
    """How buffer_sum() sums here: "numpy" where numpy imports (worker
    contexts of a Python with numpy), else "memoryview" (Python's sum()
    over a memoryview of doubles: the stdlib-only form, owngil included)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return "memoryview"
    return "numpy"


def buffer_sum(data, kind):
    """The float64 sum of any buffer: the lent memoryview, a bytes object
    decoded from CBOR, or data kept in Python."""
    if kind == "numpy":
        import numpy
        return float(numpy.frombuffer(data, dtype=numpy.float64).sum())
    view = memoryview(data)
    if view.format != "d":
        view = view.cast("B").cast("d")
    return sum(view)


_kept = {}


def keep_copy(name, data):
    """Keeps a copy of `data` inside Python: the baseline's data."""
    _kept[name] = bytes(data)
    return len(_kept[name])


def kept_sum(name, kind):
    """buffer_sum() of data already inside Python."""
    return buffer_sum(_kept[name], kind)


def kept_sum_ns(name, kind, repeat):
    """The same sum timed inside Python alone (best of `repeat`, ns): no
    request, no handoff."""
    timer = timeit.Timer("f(d, k)", globals={"f": buffer_sum, "d": _kept[name], "k": kind})
    return min(timer.repeat(repeat=repeat, number=1)) * 1e9


def drop_kept(name):
    _kept.pop(name, None)
