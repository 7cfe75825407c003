// Streams, the Python side (streams.h).
#include "core/python/streams.h"

#include "core/base/futex.h"
#include "core/cbor/writer.h"
#include "core/python/context_thread.h"
#include "core/python/convert.h"
#include "core/python/errors.h"
#include "core/python/event_loop.h"

namespace pyctx::core {

namespace {

// A sync pull stops early, delivering what it has, once it has run this
// long: a slow producer's items reach the host promptly, a fast one's are
// batched up to the whole credit.
constexpr int64_t kBatchBudgetNs = 2'000'000;

// The async side: a pump per async iterator. pull(n) runs as the pull
// request's task; it advances at most n times, returns [ended, item...]
// once it has an item and the next one is not ready within one loop
// iteration, and keeps an advance already started (self.pending, counted
// against this pull's n) for the next pull. An exception after items is
// kept and raised by the next pull.
const char kPumpHelper[] =
    "import asyncio\n"
    "class Pump:\n"
    "    __slots__ = ('agen', 'pending', 'error')\n"
    "    def __init__(self, agen):\n"
    "        self.agen = agen\n"
    "        self.pending = None\n"
    "        self.error = None\n"
    "    async def pull(self, n):\n"
    "        if self.error is not None:\n"
    "            e, self.error = self.error, None\n"
    "            raise e\n"
    "        out = [False]\n"
    "        while len(out) <= n:\n"
    "            p = self.pending\n"
    "            if p is None:\n"
    "                p = self.pending = asyncio.ensure_future(self.agen.__anext__())\n"
    "            if len(out) > 1 and not p.done():\n"
    "                await asyncio.sleep(0)\n"
    "                if not p.done():\n"
    "                    return out\n"
    "            try:\n"
    "                item = await p\n"
    "            except StopAsyncIteration:\n"
    "                self.pending = None\n"
    "                out[0] = True\n"
    "                return out\n"
    "            except asyncio.CancelledError:\n"
    "                raise\n"
    "            except BaseException as e:\n"
    "                self.pending = None\n"
    "                if len(out) > 1:\n"
    "                    self.error = e\n"
    "                    return out\n"
    "                raise\n"
    "            self.pending = None\n"
    "            out.append(item)\n"
    "        return out\n"
    "    async def aclose(self):\n"
    "        p, self.pending = self.pending, None\n"
    "        if p is not None and not p.done():\n"
    "            p.cancel()\n"
    "            try:\n"
    "                await p\n"
    "            except BaseException:\n"
    "                pass\n"
    "        await self.agen.aclose()\n"
    "def close_all(loop, pumps):\n"
    "    async def one(p):\n"
    "        try:\n"
    "            await p.aclose()\n"
    "        except BaseException:\n"
    "            pass\n"
    "    async def every():\n"
    "        await asyncio.wait([loop.create_task(one(p)) for p in pumps], timeout=1.0)\n"
    "    loop.run_until_complete(every())\n";

bool is_async_iterator(PyObject *obj) {
    PyAsyncMethods *am = Py_TYPE(obj)->tp_as_async;
    return am && am->am_anext;
}

bool is_async_iterable(PyObject *obj) {
    PyAsyncMethods *am = Py_TYPE(obj)->tp_as_async;
    return am && am->am_aiter;
}

Error no_memory() { return Error(Status::no_memory, "out of memory"); }

}  // namespace

bool Streams::ensure_helper(Error *err) {
    if (helper_) return true;
    PyRef ns(PyDict_New());
    bool ok = ns && PyDict_SetItemString(ns.get(), "__builtins__", PyEval_GetBuiltins()) == 0;
    if (ok) {
        PyRef code(Py_CompileString(kPumpHelper, "<pyctx-stream>", Py_file_input));
        PyRef res(code ? PyEval_EvalCode(code.get(), ns.get(), ns.get()) : nullptr);
        ok = static_cast<bool>(res);
    }
    if (!ok) {
        *err = fetch_python_error();
        return false;
    }
    helper_ = std::move(ns);
    return true;
}

bool Streams::open(uint64_t id, PyObject *result, Error *err) {
    Entry e;
    if (is_async_iterator(result) || is_async_iterable(result)) {
        PyRef agen = PyRef::borrow(result);
        if (!is_async_iterator(result)) agen.reset(PyObject_CallMethod(result, "__aiter__", nullptr));
        if (!agen || !ensure_helper(err)) {
            if (!agen) *err = fetch_python_error();
            return false;
        }
        PyObject *pump_type = PyDict_GetItemString(helper_.get(), "Pump");  // borrowed
        e.iter.reset(pump_type ? PyObject_CallOneArg(pump_type, agen.get()) : nullptr);
        e.async = true;
    } else {
        e.iter.reset(PyObject_GetIter(result));
        if (!e.iter && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            *err = Error(Status::invalid_argument,
                         std::string("a stream needs an iterator, an iterable or an async "
                                     "iterator; the result is of type '") +
                             Py_TYPE(result)->tp_name + "'");
            return false;
        }
    }
    if (!e.iter) {
        *err = fetch_python_error();
        return false;
    }
    try {
        streams_.emplace(id, std::move(e));
    } catch (const std::bad_alloc &) {
        *err = no_memory();
        return false;
    }
    return true;
}

void Streams::complete(Request *r, Outcome &&out) { thread_.complete(r, std::move(out)); }

void Streams::run(Request *r) {
    auto it = streams_.find(r->object_id);
    if (r->kind == RequestKind::stream_close) {
        Outcome out;
        if (!cbor::write_null(out.value)) return complete(r, Outcome{no_memory(), {}});
        if (it == streams_.end()) return complete(r, std::move(out));  // ended already: nothing to do
        Entry e = std::move(it->second);
        streams_.erase(it);
        if (e.async) return start_async(r, e, "aclose", nullptr);
        // A generator's close() runs its finally blocks; a plain iterator
        // may have no close at all.
        if (PyObject_HasAttrString(e.iter.get(), "close")) {
            PyRef res(PyObject_CallMethod(e.iter.get(), "close", nullptr));
            if (!res) return complete(r, Outcome{fetch_python_error(), {}});
        }
        return complete(r, std::move(out));
    }
    if (it == streams_.end()) {
        return complete(r, Outcome{Error(Status::invalid_argument,
                                         "stream " + std::to_string(r->object_id) +
                                             " is not open in this context (ended or closed)"),
                                   {}});
    }
    Entry &e = it->second;
    if (!e.error.ok()) {  // raised after the previous pull's items
        Error err = std::move(e.error);
        streams_.erase(it);
        return complete(r, Outcome{std::move(err), {}});
    }
    if (e.async) {
        PyRef n(PyLong_FromUnsignedLong(r->count));
        if (!n) return complete(r, Outcome{fetch_python_error(), {}});
        return start_async(r, e, "pull", n.get());
    }
    pull_sync(r, e);
}

void Streams::start_async(Request *r, Entry &e, const char *method, PyObject *arg) {
    PyRef coro(arg ? PyObject_CallMethod(e.iter.get(), method, "O", arg)
                   : PyObject_CallMethod(e.iter.get(), method, nullptr));
    if (!coro || !loop_.start_task(r, coro.release())) complete(r, Outcome{fetch_python_error(), {}});
}

void Streams::pull_sync(Request *r, Entry &e) {
    PyObject *iter = e.iter.get();
    iternextfunc next = Py_TYPE(iter)->tp_iternext;
    ByteBuffer items;
    Error err;
    uint32_t n = 0;
    bool ended = false;
    const int64_t start = now_ns();
    while (n < r->count) {
        PyObject *item = next(iter);
        if (!item) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) {
                PyErr_Clear();
                ended = true;
            } else {
                err = fetch_python_error();
            }
            break;
        }
        const bool encoded = python_to_cbor(item, types_, items, &err);
        Py_DECREF(item);
        if (!encoded) break;
        ++n;
        // The clock is read at powers of two, then every 32 items.
        if (((n & (n - 1)) == 0 || (n & 31) == 0) && now_ns() - start > kBatchBudgetNs) break;
    }
    const uint64_t id = r->object_id;
    if (!err.ok() && err.status == Status::encode) {
        // An item that cannot be encoded ends the stream; the items before
        // it are dropped with the half-written batch.
        streams_.erase(id);
        return complete(r, Outcome{std::move(err), {}});
    }
    if (!err.ok()) {
        if (n == 0) {
            streams_.erase(id);
            return complete(r, Outcome{std::move(err), {}});
        }
        e.error = std::move(err);  // after the items: the next pull reports it
    }
    if (ended) streams_.erase(id);  // the iterator goes now, not at close
    Outcome out;
    if (!cbor::write_head(out.value, cbor::Major::array, uint64_t{n} + 1) ||
        !cbor::write_bool(out.value, ended) || !out.value.append(items.data(), items.size()))
        return complete(r, Outcome{no_memory(), {}});
    complete(r, std::move(out));
}

void Streams::clear() {
    std::unordered_map<uint64_t, Entry> all;
    all.swap(streams_);
    PyRef pumps(PyList_New(0));
    for (auto &[id, e] : all) {
        if (e.async) {
            if (pumps && PyList_Append(pumps.get(), e.iter.get()) < 0) PyErr_Clear();
        } else if (PyObject_HasAttrString(e.iter.get(), "close")) {
            PyRef res(PyObject_CallMethod(e.iter.get(), "close", nullptr));
            if (!res) PyErr_WriteUnraisable(e.iter.get());
        }
    }
    // Async generators close on the loop (bounded); one never started, or
    // with no loop at all, has no finally pending and is simply dropped.
    if (pumps && PyList_GET_SIZE(pumps.get()) > 0 && loop_.object() && !loop_.running() && helper_) {
        PyObject *close_all = PyDict_GetItemString(helper_.get(), "close_all");  // borrowed
        PyRef res(close_all ? PyObject_CallFunctionObjArgs(close_all, loop_.object(), pumps.get(),
                                                           nullptr)
                            : nullptr);
        if (!res) PyErr_Clear();
    }
    all.clear();
    helper_.reset();
    PyErr_Clear();
}

}  // namespace pyctx::core
