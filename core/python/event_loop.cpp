#include "core/python/event_loop.h"

#include "core/python/compat.h"
#include "core/python/context_thread.h"
#include "core/python/convert.h"
#include "core/python/errors.h"
#include "core/python/py_state.h"

namespace pyctx::core {

namespace {

// Called by asyncio when a request's task finishes; `self` is the request id.
PyObject *on_task_done(PyObject *self, PyObject *task) {
    if (ContextThread *t = ContextThread::current())
        t->py().loop().task_done(PyLong_AsUnsignedLongLong(self), task);
    Py_RETURN_NONE;
}
PyMethodDef task_done_def = {"_pyctx_task_done", on_task_done, METH_O, nullptr};

const char kLoopHelper[] =
    "import os\n"
    "def install(loop, fd):\n"
    "    def woken():\n"
    "        try:\n"
    "            os.read(fd, 8)\n"
    "        except BlockingIOError:\n"
    "            pass\n"
    "        loop.stop()\n"
    "    loop.add_reader(fd, woken)\n";

}  // namespace

bool EventLoop::ensure(Error *err) {
    if (loop_) return true;
    PyRef asyncio(PyImport_ImportModule("asyncio"));
    PyRef loop(asyncio ? PyObject_CallMethod(asyncio.get(), "new_event_loop", nullptr) : nullptr);
    PyRef ensure_future(asyncio ? PyObject_GetAttrString(asyncio.get(), "ensure_future") : nullptr);
    PyRef helper_ns(loop ? PyDict_New() : nullptr);
    bool ok = ensure_future && helper_ns &&
              PyDict_SetItemString(helper_ns.get(), "__builtins__", PyEval_GetBuiltins()) == 0;
    if (ok) {
        PyRef code(Py_CompileString(kLoopHelper, "<pyctx-loop>", Py_file_input));
        PyRef res(code ? PyEval_EvalCode(code.get(), helper_ns.get(), helper_ns.get()) : nullptr);
        ok = static_cast<bool>(res);
    }
    if (ok) {
        PyObject *install = PyDict_GetItemString(helper_ns.get(), "install");  // borrowed
        PyRef fd(PyLong_FromLong(thread_.wake_fd()));
        PyRef res(install && fd ? PyObject_CallFunctionObjArgs(install, loop.get(), fd.get(), nullptr)
                                : nullptr);
        ok = static_cast<bool>(res);
    }
    PyRef stop, run_forever, call_soon, create_task;
    if (ok) {
        stop.reset(PyObject_GetAttrString(loop.get(), "stop"));
        run_forever.reset(PyObject_GetAttrString(loop.get(), "run_forever"));
        call_soon.reset(PyObject_GetAttrString(loop.get(), "call_soon"));
        create_task.reset(PyObject_GetAttrString(loop.get(), "create_task"));
        ok = stop && run_forever && call_soon && create_task;
    }
    if (!ok) {
        *err = fetch_python_error();
        return false;
    }
    loop_ = std::move(loop);
    stop_ = std::move(stop);
    run_forever_ = std::move(run_forever);
    call_soon_ = std::move(call_soon);
    create_task_ = std::move(create_task);
    ensure_future_ = std::move(ensure_future);
    return true;
}

PyObject *EventLoop::create_future() {
    Error err;
    if (!ensure(&err)) {
        PyErr_SetString(PyExc_RuntimeError, err.message.c_str());
        return nullptr;
    }
    return PyObject_CallMethod(loop_.get(), "create_future", nullptr);
}

bool EventLoop::start_task(Request *r, PyObject *awaitable_in) {
    PyRef awaitable(awaitable_in);
    Error err;
    // Making the loop and the task runs Python code: an interrupt landing
    // there (a close) would leave half-built asyncio objects that complain
    // when collected. Hold interrupts back meanwhile, as during a host call;
    // a request stopped in between unwinds when it is seen claimed.
    r->host_waiting.store(true, std::memory_order_release);
    struct Release {
        Request *r;
        ~Release() { r->host_waiting.store(false, std::memory_order_release); }
    } release{r};
    if (!ensure(&err)) {
        if (PyCoro_CheckExact(awaitable.get())) {
            PyRef closed(PyObject_CallMethod(awaitable.get(), "close", nullptr));
        }
        PyErr_SetString(PyExc_RuntimeError, err.message.c_str());
        return false;
    }
    PyRef task;
    if (PyCoro_CheckExact(awaitable.get())) {
        task.reset(PyObject_CallOneArg(create_task_.get(), awaitable.get()));
    } else {
        PyRef kw(Py_BuildValue("{s:O}", "loop", loop_.get()));
        PyRef args(PyTuple_Pack(1, awaitable.get()));
        task.reset(kw && args ? PyObject_Call(ensure_future_.get(), args.get(), kw.get()) : nullptr);
    }
    if (!task) {
        // The coroutine will never run (e.g. an interrupt landed here):
        // close it, keeping the error, so Python does not warn it was never
        // awaited.
        if (PyCoro_CheckExact(awaitable.get())) {
            PyRef exc(take_raised_exception());
            PyRef closed(PyObject_CallMethod(awaitable.get(), "close", nullptr));
            PyErr_Clear();
            if (exc) restore_raised_exception(exc.release());
        }
        return false;
    }
    PyRef id(PyLong_FromUnsignedLongLong(r->id));
    PyRef cb(id ? PyCFunction_New(&task_done_def, id.get()) : nullptr);
    PyRef res(cb ? PyObject_CallMethod(task.get(), "add_done_callback", "O", cb.get()) : nullptr);
    if (!res) return false;
    tasks_.emplace(r->id, task.release());
    ++pending_tasks_;
    thread_.add_task(r);
    r->phase.store(Phase::task, std::memory_order_seq_cst);
    if (r->is_claimed()) cancel_task(r->id);  // cancelled while it was starting
    return true;
}

void EventLoop::drive(bool block) {
    if (!loop_) return;
    ++depth_;
    if (!block) {
        PyRef h(PyObject_CallOneArg(call_soon_.get(), stop_.get()));
    }
    PyRef res(PyObject_CallNoArgs(run_forever_.get()));
    if (!res) {
        if (thread_.is_closing() && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            // The interrupt of a request that close just ended: expected.
            PyErr_Clear();
        } else {
            // An exception escaping the loop itself (not a task's): report it
            // the way asyncio reports unhandled errors, and keep serving.
            PyErr_WriteUnraisable(loop_.get());
        }
    }
    --depth_;
}

void EventLoop::task_done(uint64_t request_id, PyObject *task) {
    auto it = tasks_.find(request_id);
    if (it != tasks_.end()) {
        Py_DECREF(it->second);
        tasks_.erase(it);
        if (pending_tasks_) --pending_tasks_;
    }
    // Let the serving loop regain control to deliver completions promptly.
    if (stop_) {
        PyRef r(PyObject_CallNoArgs(stop_.get()));
        PyErr_Clear();
    }
    Request *r = thread_.take_task(request_id);
    if (!r) return;
    RequestRef hold(r);
    if (r->is_claimed()) return;
    Outcome out;
    PyRef cancelled(PyObject_CallMethod(task, "cancelled", nullptr));
    if (cancelled && PyObject_IsTrue(cancelled.get()) == 1) {
        // A close cancels what still runs on the loop (async streams being
        // closed, tasks being unwound): that request ended by the close.
        out.error = thread_.is_closing()
                        ? Error(Status::closed, "the context closed while the coroutine ran")
                        : Error(Status::cancelled, "the coroutine was cancelled");
    } else {
        PyRef value(PyObject_CallMethod(task, "result", nullptr));
        if (!value) {
            out.error = fetch_python_error();
        } else {
            thread_.py().encode_result(r, value.get(), out);  // value, handle, stream or view
        }
    }
    PyErr_Clear();
    r->phase.store(Phase::finished, std::memory_order_release);
    thread_.complete(r, std::move(out));
}

void EventLoop::cancel_task(uint64_t request_id) {
    auto it = tasks_.find(request_id);
    if (it == tasks_.end()) return;
    PyRef r(PyObject_CallMethod(it->second, "cancel", nullptr));
    PyErr_Clear();
}

void EventLoop::clear() {
    if (loop_) {
        // Cancel what is still pending and give the tasks a few iterations
        // to unwind; each request completes from its task's done callback.
        for (auto &[id, task] : tasks_) {
            PyRef r(PyObject_CallMethod(task, "cancel", nullptr));
            PyErr_Clear();
        }
        // Enough iterations for every cancelled task to unwind its
        // coroutine (finally blocks included); bounded, since a task may
        // swallow the cancellation and keep going.
        for (int i = 0; i < 64 && pending_tasks_ > 0; ++i) drive(false);
        for (auto &[id, task] : tasks_) {
            // Still pending: it outlives the loop; do not let asyncio
            // complain about it when it is dropped.
            PyRef no(PyBool_FromLong(0));
            if (PyObject_SetAttrString(task, "_log_destroy_pending", no.get()) < 0) PyErr_Clear();
        }
        PyRef r(PyObject_CallMethod(loop_.get(), "close", nullptr));
        PyErr_Clear();
    }
    // A task that outlived the unwind (it swallowed the cancellation, or an
    // interrupt cut the loop short) still owes its request an answer:
    // exactly once, as closed, never a silent release.
    for (auto &[id, task] : tasks_) {
        if (Request *req = thread_.take_task(id)) {
            RequestRef hold(req);
            if (!req->is_claimed()) {
                req->phase.store(Phase::finished, std::memory_order_release);
                thread_.complete(req, Outcome{Error(Status::closed, "the context closed while the coroutine ran"), {}});
            }
        }
        Py_DECREF(task);
    }
    tasks_.clear();
    pending_tasks_ = 0;
    loop_.reset();
    stop_.reset();
    run_forever_.reset();
    call_soon_.reset();
    create_task_.reset();
    ensure_future_.reset();
}

}  // namespace pyctx::core
