"""Python side of the Go binding's tests (put on sys.path by TestMain)."""
import asyncio
import threading

import pyctx


def identity(x):
    return x


def type_name(x):
    t = type(x)
    return t.__module__ + "." + t.__qualname__


def add(a, b):
    return a + b


def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def dict_with_tuple_keys():
    return {(1, 2): "pair", b"raw": "bytes", 10**30: "big", "s": "str"}


def nested_set():
    return {"s": {1, 2, 3}, "fs": frozenset({(1, 2)})}


class CustomError(Exception):
    pass


def fail_custom(message):
    raise CustomError(message)


def divide(a, b):
    return a / b


def unencodable():
    return object()


def loop_after_signal(host_function):
    """Tells the host it is running (through a host function), then loops
    until interrupted, so a test can cancel a request that is surely running."""
    pyctx.call(host_function)
    while True:
        pass


def call_host(name, *args):
    return pyctx.call(name, *args)


async def coro_add(a, b):
    await asyncio.sleep(0)
    return a + b


async def coro_call_host(name, *args):
    return await pyctx.async_call(name, *args)


def native_thread_id():
    return threading.get_native_id()


def burn(n):
    """Pure-Python CPU work for the parallelism test."""
    total = 0
    for i in range(n):
        total += i * i
    return total


class Counter:
    """An object the host keeps a handle to (object handle tests)."""

    def __init__(self, start=0):
        self.n = start
        self.label = "counter"

    def add(self, k=1):
        self.n += k
        return self.n

    def __call__(self, x, scale=1):
        return (self.n + x) * scale

    def upto(self, limit):
        return iter(range(self.n, limit))


def make_counter(start=0):
    return Counter(start)


def counter_value(c):
    """Receives an object handle back as the object itself."""
    return c.n


def sum_counters(items):
    return sum(item["c"].n for item in items)


def counting(n):
    yield from range(n)


def failing_after(n):
    yield from range(n)
    raise ValueError("stream broke after %d" % n)


stream_finished = []


def endless(tag):
    """Yields forever; records its tag when closed (its finally runs)."""
    try:
        i = 0
        while True:
            yield i
            i += 1
    finally:
        stream_finished.append(tag)


async def async_counting(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i * 10


def stream_finished_tags():
    return list(stream_finished)


def view_info(view):
    """What Python sees of a lent buffer."""
    return {"format": view.format, "shape": list(view.shape), "readonly": view.readonly,
            "itemsize": view.itemsize, "nbytes": view.nbytes,
            "exporter": type(view.obj).__name__}


def view_sum(view):
    return sum(view.tolist()) if view.ndim == 1 else sum(sum(r) for r in view.tolist())


def view_fill(view, value):
    for i in range(len(view)):
        view[i] = value
    return len(view)


def double_array(values):
    import array
    return array.array("d", values)
