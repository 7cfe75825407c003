#include "core/python/host_calls.h"

#include "core/base/futex.h"
#include "core/cbor/writer.h"
#include "core/python/compat.h"
#include "core/python/context_thread.h"
#include "core/python/convert.h"
#include "core/python/foreign_loop.h"
#include "core/python/futures.h"
#include "core/python/module.h"
#include "core/python/py_state.h"

namespace pyctx::core {

namespace {

void raise_host_error(const PyTypes &types, const std::string &message) {
    PyErr_SetString(types.host_error_type ? types.host_error_type : PyExc_RuntimeError,
                    message.c_str());
}

// Builds a call from Python arguments (name, *args). Returns nullptr with a
// Python exception set.
HostCall *prepare(PyObject *const *args, Py_ssize_t nargs, const PyTypes &types) {
    if (nargs < 1 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "pyctx.call() needs the host function's name (str) first");
        return nullptr;
    }
    Py_ssize_t name_len = 0;
    const char *name = PyUnicode_AsUTF8AndSize(args[0], &name_len);
    if (!name) return nullptr;
    auto fn = host_registry().find(std::string_view(name, static_cast<size_t>(name_len)));
    if (!fn) {
        PyErr_Format(PyExc_LookupError, "no host function named '%s' is registered", name);
        return nullptr;
    }
    auto *call = new HostCall();
    call->name.assign(name, static_cast<size_t>(name_len));
    call->function = std::move(fn);
    Error err;
    bool ok = cbor::write_head(call->args, cbor::Major::array, static_cast<uint64_t>(nargs - 1));
    for (Py_ssize_t i = 1; ok && i < nargs; ++i) ok = python_to_cbor(args[i], types, call->args, &err);
    if (!ok) {
        delete call;
        PyErr_SetString(PyExc_TypeError, err.ok() ? "out of memory" : err.message.c_str());
        return nullptr;
    }
    return call;
}

void invoke_plain(HostCall *call) { invoke_host_plain(call); }

PyObject *answer_to_python(HostCall *call, const PyTypes &types) {
    return host_answer_to_python(call, types);
}


// A blocking call from a Python thread of user code (no context thread).
PyObject *call_from_plain_thread(PyObject *const *args, Py_ssize_t nargs) {
    PyTypes types;
    if (!load_py_types(&types, nullptr)) return nullptr;
    HostCall *call = prepare(args, nargs, types);
    PyObject *result = nullptr;
    if (call) {
        invoke_plain(call);
        Py_BEGIN_ALLOW_THREADS
        while (call->answered.load(std::memory_order_acquire) == 0) futex_wait(call->answered, 0);
        Py_END_ALLOW_THREADS
        result = answer_to_python(call, types);
        call->release();
    }
    release_py_types(&types);
    return result;
}

}  // namespace

PyObject *call_host_builtin(std::string_view name, PyObject *const *args, Py_ssize_t nargs) {
    PyRef n(PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size())));
    if (!n) return nullptr;
    constexpr Py_ssize_t kMax = 7;
    if (nargs > kMax) {
        PyErr_SetString(PyExc_SystemError, "too many builtin call arguments");
        return nullptr;
    }
    PyObject *vec[kMax + 1] = {n.get()};
    for (Py_ssize_t i = 0; i < nargs; ++i) vec[i + 1] = args[i];
    return host_py_call(nullptr, vec, nargs + 1);
}

PyObject *call_host_builtin_async(std::string_view name, PyObject *const *args, Py_ssize_t nargs) {
    PyRef n(PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size())));
    if (!n) return nullptr;
    constexpr Py_ssize_t kMax = 7;
    if (nargs > kMax) {
        PyErr_SetString(PyExc_SystemError, "too many builtin call arguments");
        return nullptr;
    }
    PyObject *vec[kMax + 1] = {n.get()};
    for (Py_ssize_t i = 0; i < nargs; ++i) vec[i + 1] = args[i];
    return host_py_async_call(nullptr, vec, nargs + 1);
}

void invoke_host_plain(HostCall *call) {
    std::shared_ptr<HostFunction> fn = std::move(call->function);
    Py_BEGIN_ALLOW_THREADS
    fn->invoke(call);
    fn.reset();  // may run the finalizer of an unregistered function
    Py_END_ALLOW_THREADS
}

PyObject *host_answer_to_python(HostCall *call, const PyTypes &types) {
    if (!call->ok) {
        if (call->unknown_function) {
            PyErr_SetString(PyExc_LookupError, call->error_message.c_str());
        } else {
            raise_host_error(types, call->error_message);
        }
        return nullptr;
    }
    Error err;
    PyObject *v = cbor_to_python(call->value.data(), call->value.size(), types, &err);
    if (!v) raise_host_error(types, "host function '" + call->name + "' answered: " + err.message);
    return v;
}

PyObject *host_py_call(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    ContextThread *thread = ContextThread::current();
    if (!thread) return call_from_plain_thread(args, nargs);
    const PyTypes &types = thread->py().types();
    HostCall *call = prepare(args, nargs, types);
    if (!call) return nullptr;
    call->waiter = thread->host_call_waiter();
    call->context_name = thread->context_name();
    Request *waiting = thread->current_request();
    if (waiting) {
        waiting->host_waiting.store(true, std::memory_order_release);
        if (waiting->interrupt_posted.load(std::memory_order_acquire)) {
            // Interrupted just before this call: raise here, not in a request
            // served while waiting.
            waiting->host_waiting.store(false, std::memory_order_release);
            thread->clear_pending_interrupt(waiting);
            call->release();  // the host's reference: the host never sees it
            call->release();
            PyErr_SetString(PyExc_KeyboardInterrupt, "the request was interrupted");
            return nullptr;
        }
    }
    thread->invoke_host(call);
    if (call->answered.load(std::memory_order_acquire) == 0) {
        // Keep serving this context's queue while the host works: it may
        // call back into us from another thread. A cancel, timeout or close
        // of the waiting request ends the wait.
        thread->wait_host_answer(call, waiting);
    }
    if (waiting) {
        waiting->host_waiting.store(false, std::memory_order_release);
        thread->clear_pending_interrupt(waiting);
    }
    PyObject *result;
    bool answered = call->answered.load(std::memory_order_acquire) != 0;
    if (waiting && waiting->is_claimed() && (answered || !thread->is_closing())) {
        // Cancelled, timed out or closed during the call (answered or not):
        // unwind the request like the interrupt that was held back meanwhile.
        if (!answered) call->abandoned.store(true, std::memory_order_release);
        PyErr_SetString(PyExc_KeyboardInterrupt,
                        "the request was stopped while it called a host function");
        result = nullptr;
    } else if (!answered) {
        call->abandoned.store(true, std::memory_order_release);
        raise_host_error(types, "context closed while waiting for host function '" + call->name + "'");
        result = nullptr;
    } else {
        result = answer_to_python(call, types);
    }
    call->release();
    return result;
}

PyObject *host_py_async_call(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    ContextThread *thread = ContextThread::current();
    PyRef loop(running_loop_of_thread());
    if (loop && (!thread || loop.get() != thread->py().loop().object())) {
        // A loop of the user's own (asyncio.run() inside a request, or on a
        // Python thread of its own): resolved on that loop.
        PyTypes own;
        if (!load_py_types(&own, nullptr)) return nullptr;
        HostCall *call = prepare(args, nargs, own);
        release_py_types(&own);
        if (!call) return nullptr;
        return await_host_call_on(loop.get(), call, thread);
    }
    if (!thread) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pyctx.async_call() must be awaited inside a running event loop");
        return nullptr;
    }
    PyState &py = thread->py();
    HostCall *call = prepare(args, nargs, py.types());
    if (!call) return nullptr;
    PyObject *future = await_on_context_loop(py, thread, call);
    if (!future) {
        delete call;
        return nullptr;
    }
    thread->invoke_host(call);
    return future;
}

PyObject *await_on_context_loop(PyState &py, ContextThread *thread, HostCall *call) {
    PyObject *future = py.loop().create_future();
    if (!future) return nullptr;
    call->awaited = true;
    call->waiter = thread->host_call_waiter();
    call->context_name = thread->context_name();
    Py_INCREF(future);  // one for the map, one returned
    py.awaited_calls.emplace(call, future);
    return future;
}

void resume_awaited_host_call(PyState &py, HostCall *call) {
    auto it = py.awaited_calls.find(call);
    if (it != py.awaited_calls.end()) {
        PyRef future(it->second);
        py.awaited_calls.erase(it);
        if (future_pending(future.get())) {
            PyRef value(answer_to_python(call, py.types()));
            settle_future(future.get(), value.get());
        }
        call->release();  // the Python side's reference
    }
    call->release();  // the reference posted with the answer
}

void abandon_awaited_host_calls(PyState &py) {
    for (auto &[call, future] : py.awaited_calls) {
        call->abandoned.store(true, std::memory_order_release);
        PyRef r(PyObject_CallMethod(future, "cancel", nullptr));
        PyErr_Clear();
        Py_DECREF(future);
        call->release();
    }
    py.awaited_calls.clear();
}

}  // namespace pyctx::core
