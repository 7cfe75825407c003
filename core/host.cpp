#include "core/host.h"

#include "core/py_compat.h"

#include "core/cbor_python.h"
#include "core/cbor_reader.h"
#include "core/cbor_writer.h"
#include "core/context.h"
#include "core/py_module.h"
#include "core/py_state.h"
#include "core/request.h"

namespace pyctx::core {

// ---------------------------------------------------------------------------
// registry

HostRegistry &host_registry() {
    static HostRegistry *registry = new HostRegistry();  // outlives static teardown
    return *registry;
}

void HostRegistry::add(std::shared_ptr<HostFunction> fn) {
    std::shared_ptr<HostFunction> replaced;
    {
        std::lock_guard lock(mu_);
        try {
            auto &slot = map_[fn->name];
            replaced = std::move(slot);
            slot = std::move(fn);
        } catch (...) {
            // Registration failed: the caller keeps ownership of user_data.
            fn->free_user_data = nullptr;
            throw;
        }
    }
    // `replaced` is released here, outside the lock: its finalizer is user code.
}

bool HostRegistry::remove(const std::string &name) {
    std::shared_ptr<HostFunction> removed;
    {
        std::lock_guard lock(mu_);
        auto it = map_.find(name);
        if (it == map_.end()) return false;
        removed = std::move(it->second);
        map_.erase(it);
    }
    return true;
}

std::shared_ptr<HostFunction> HostRegistry::find(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = map_.find(std::string(name));
    return it == map_.end() ? nullptr : it->second;
}

void HostRegistry::clear() {
    std::unordered_map<std::string, std::shared_ptr<HostFunction>> old;
    {
        std::lock_guard lock(mu_);
        old.swap(map_);
    }
}

// ---------------------------------------------------------------------------
// answering (any thread)

namespace {

Error deliver_answer(pyctx_host_call *call) {
    Error result;
    if (call->abandoned.load(std::memory_order_acquire)) {
        result = Error(Status::closed, "the calling context has closed");
    }
    if (call->awaited) {
        // The future lives on the context thread: hand the answer over as an
        // internal request.
        auto *msg = new Request();
        msg->kind = RequestKind::host_reply;
        call->refs.fetch_add(1, std::memory_order_relaxed);
        msg->internal = call;
        if (!call->context || !call->context->post_internal(RequestRef(msg))) {
            call->release();  // the message's reference (msg itself is freed by RequestRef)
            if (result.ok()) result = Error(Status::closed, "the calling context has closed");
        }
    } else {
        call->answered.store(1, std::memory_order_release);
        futex_wake_all(call->answered);
        if (call->context) call->context->wake();
    }
    call->release();  // the host's reference
    return result;
}

bool claim_answer(pyctx_host_call *call) {
    return !call->answer_claimed.exchange(true, std::memory_order_acq_rel);
}

}  // namespace

Error host_call_return(pyctx_host_call *call, const uint8_t *value, size_t len) {
    if (!claim_answer(call)) return Error(Status::invalid_argument, "host call already answered");
    Error err;
    if (!value || len == 0) {
        err = Error(Status::decode, "host answer is empty: expected one CBOR item");
    } else {
        cbor::check_single_item(value, len, &err);
    }
    if (!err.ok()) {
        call->ok = false;
        call->error_message = "host function '" + call->name + "' answered invalid CBOR: " + err.message;
        Error closed = deliver_answer(call);
        return closed.ok() ? err : closed;
    }
    call->ok = true;
    if (!call->value.append(value, len)) {
        call->ok = false;
        call->error_message = "out of memory";
    }
    return deliver_answer(call);
}

Error host_call_fail(pyctx_host_call *call, const char *message) {
    if (!claim_answer(call)) return Error(Status::invalid_argument, "host call already answered");
    call->ok = false;
    call->error_message = message ? message : "host function failed";
    return deliver_answer(call);
}

// ---------------------------------------------------------------------------
// the Python side

namespace {

void raise_host_error(const PyTypes &types, const std::string &message) {
    PyErr_SetString(types.host_error_type ? types.host_error_type : PyExc_RuntimeError,
                    message.c_str());
}

// Builds a call from Python arguments (name, *args). Returns nullptr with a
// Python exception set.
pyctx_host_call *prepare(PyObject *const *args, Py_ssize_t nargs, const PyTypes &types) {
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
    auto *call = new pyctx_host_call();
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

// Runs the host function with the GIL released. On a context thread the
// saved thread state is published so the host may call back in (inline).
void invoke(pyctx_host_call *call, Context *ctx) {
    std::shared_ptr<HostFunction> fn = std::move(call->function);
    PyThreadState *ts = PyEval_SaveThread();
    if (ctx) ctx->saved_thread_state = ts;
    fn->fn(fn->user_data, call);
    if (ctx) ctx->saved_thread_state = nullptr;
    fn.reset();  // may run the finalizer of an unregistered function
    PyEval_RestoreThread(ts);
}

PyObject *answer_to_python(pyctx_host_call *call, const PyTypes &types) {
    if (!call->ok) {
        raise_host_error(types, call->error_message);
        return nullptr;
    }
    Error err;
    PyObject *v = cbor_to_python(call->value.data(), call->value.size(), types, &err);
    if (!v) raise_host_error(types, "host function '" + call->name + "' answered: " + err.message);
    return v;
}

}  // namespace

PyObject *host_py_call(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    Context *ctx = Context::current();
    PyTypes fallback;
    if (!ctx && !load_py_types(&fallback, nullptr)) return nullptr;
    const PyTypes &types = ctx ? ctx->py()->types() : fallback;
    pyctx_host_call *call = prepare(args, nargs, types);
    if (!call) return nullptr;
    if (ctx) {
        call->context = ctx->shared_from_this();
        call->context_name = ctx->name();
    }
    Request *waiting = ctx ? ctx->current_request() : nullptr;
    if (waiting) {
        waiting->host_waiting.store(true, std::memory_order_release);
        if (waiting->interrupt_posted.load(std::memory_order_acquire)) {
            // Interrupted just before this call: raise here, not in a request
            // served while waiting.
            waiting->host_waiting.store(false, std::memory_order_release);
            ctx->clear_pending_interrupt(waiting);
            call->release();  // the host's reference: the host never sees it
            call->release();
            PyErr_SetString(PyExc_KeyboardInterrupt, "the request was interrupted");
            return nullptr;
        }
    }
    invoke(call, ctx);
    if (call->answered.load(std::memory_order_acquire) == 0) {
        if (ctx) {
            // Keep serving this context's queue while the host works: it may
            // call back into us from another thread. A cancel, timeout or
            // close of the waiting request ends the wait.
            ctx->serve(&call->answered, waiting);
        } else {
            Py_BEGIN_ALLOW_THREADS
            while (call->answered.load(std::memory_order_acquire) == 0) futex_wait(call->answered, 0);
            Py_END_ALLOW_THREADS
        }
    }
    if (waiting) {
        waiting->host_waiting.store(false, std::memory_order_release);
        ctx->clear_pending_interrupt(waiting);
    }
    PyObject *result;
    bool answered = call->answered.load(std::memory_order_acquire) != 0;
    if (waiting && waiting->is_claimed() && (answered || !ctx->is_closing())) {
        // Cancelled, timed out or closed during the call (answered or not):
        // unwind the request like the interrupt that was held back meanwhile.
        if (!answered) call->abandoned.store(true, std::memory_order_release);
        PyErr_SetString(PyExc_KeyboardInterrupt,
                        "the request was stopped while it called a host function");
        result = nullptr;
    } else if (call->answered.load(std::memory_order_acquire) == 0) {
        call->abandoned.store(true, std::memory_order_release);
        raise_host_error(types, "context closed while waiting for host function '" + call->name + "'");
        result = nullptr;
    } else {
        result = answer_to_python(call, types);
    }
    call->release();
    release_py_types(&fallback);
    return result;
}

PyObject *host_py_async_call(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    Context *ctx = Context::current();
    if (!ctx) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pyctx.async_call() must be awaited on a context's own thread");
        return nullptr;
    }
    PyState *py = ctx->py();
    pyctx_host_call *call = prepare(args, nargs, py->types());
    if (!call) return nullptr;
    PyObject *future = py->create_future();
    if (!future) {
        delete call;
        return nullptr;
    }
    call->awaited = true;
    call->future = future;
    Py_INCREF(future);  // one for the call, one returned
    call->context = ctx->shared_from_this();
    call->context_name = ctx->name();
    py->async_host_calls.insert(call);
    invoke(call, ctx);
    return future;
}

void host_call_resume(Context &ctx, Request *reply) {
    auto *call = static_cast<pyctx_host_call *>(reply->internal);
    reply->internal = nullptr;
    PyState *py = ctx.py();
    if (py && py->async_host_calls.erase(call) && call->future) {
        PyObject *done = PyObject_CallMethod(call->future, "done", nullptr);
        bool already = done && PyObject_IsTrue(done) == 1;
        Py_XDECREF(done);
        PyErr_Clear();
        if (!already) {
            PyObject *value = answer_to_python(call, py->types());
            PyObject *r;
            if (value) {
                r = PyObject_CallMethod(call->future, "set_result", "O", value);
                Py_DECREF(value);
            } else {
                PyObject *exc = take_raised_exception();
                r = PyObject_CallMethod(call->future, "set_exception", "O", exc);
                Py_XDECREF(exc);
            }
            Py_XDECREF(r);
            PyErr_Clear();
        }
        Py_CLEAR(call->future);
        call->release();  // the Python side's reference
    }
    call->release();  // the message's reference
}

void host_reply_discard(Request *reply) {
    if (auto *call = static_cast<pyctx_host_call *>(reply->internal)) {
        reply->internal = nullptr;
        call->release();
    }
}

void host_calls_abandon_all(Context &ctx) {
    PyState *py = ctx.py();
    if (!py) return;
    for (pyctx_host_call *call : py->async_host_calls) {
        call->abandoned.store(true, std::memory_order_release);
        if (call->future) {
            PyObject *r = PyObject_CallMethod(call->future, "cancel", nullptr);
            Py_XDECREF(r);
            PyErr_Clear();
            Py_CLEAR(call->future);
        }
        call->release();
    }
    py->async_host_calls.clear();
}

}  // namespace pyctx::core
