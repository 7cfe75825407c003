// Running call, eval and exec requests (PyState::execute).
#include "core/python/context_thread.h"
#include "core/python/errors.h"
#include "core/python/py_state.h"
#include "core/python/setup_py.h"

namespace pyctx::core {

namespace {

// Keyword arguments and locals must be dicts keyed by str.
bool is_str_keyed_dict(PyObject *obj) {
    if (!PyDict_CheckExact(obj)) return false;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(obj, &pos, &k, &v))
        if (!PyUnicode_Check(k)) return false;
    return true;
}

bool is_exact_list(PyObject *obj) { return PyList_CheckExact(obj); }

// A request's CBOR arguments as the Python container `accepts` takes, or
// nullptr with `err` set (a decode error naming what it must be, when it
// decoded to something else). Empty bytes decode to nullptr and no error.
PyObject *decode_arguments(const ByteBuffer &cbor, const PyTypes &types, bool (*accepts)(PyObject *),
                           const char *must_be, Error *err) {
    if (cbor.empty()) return nullptr;
    PyRef obj(cbor_to_python(cbor.data(), cbor.size(), types, err));
    if (obj && !accepts(obj.get())) {
        *err = Error(Status::decode, must_be);
        return nullptr;
    }
    return obj.release();
}

bool is_awaitable(PyObject *obj) {
    return PyCoro_CheckExact(obj) || (Py_TYPE(obj)->tp_as_async && Py_TYPE(obj)->tp_as_async->am_await);
}

}  // namespace

void PyState::execute(Request *r) {
    // Runtime-wide set-up changed since the last request: apply it first.
    if (runtime_setup_changed(setup_seen_)) apply_runtime_setup(&setup_seen_, &setup_error_);
    if (!setup_error_.ok()) return fail(r, std::exchange(setup_error_, Error()));
    switch (r->kind) {
        case RequestKind::call: run_call(r); break;
        case RequestKind::eval:
        case RequestKind::exec: run_code(r); break;
        case RequestKind::object_call:
        case RequestKind::method_call:
        case RequestKind::getattr:
        case RequestKind::release: run_object(r); break;
        case RequestKind::stream_pull:
        case RequestKind::stream_close: streams_.run(r); break;
        case RequestKind::control: break;  // handled by the executor
    }
}

void PyState::fail(Request *r, Error err) { thread_.complete(r, Outcome{std::move(err), {}}); }

void PyState::run_call(Request *r) {
    Error err;
    PyRef fn(ns_.resolve_function(*r, &err));
    if (!fn) return fail(r, std::move(err));
    call_object(r, std::move(fn));
}

void PyState::call_object(Request *r, PyRef fn, PyObject *method) {
    Error err;
    PyTypes arg_types = types_;  // its buffer tags name r's attached buffers
    arg_types.lent = &r->buffers;
    // Common case: a few positional arguments and no kwargs go straight
    // from CBOR into a stack array for vectorcall, with no list. Slot 0 is
    // the object of a method call (vectorcall's self slot).
    if (r->kwargs.empty()) {
        constexpr size_t kInline = 8;
        PyObject *slots[kInline + 1];
        PyObject **items = slots + 1;
        size_t n = 0;
        int rc = r->args.empty() ? 0
                                 : cbor_array_into(r->args.data(), r->args.size(), arg_types, items,
                                                   kInline, &n, &err);
        if (rc == 0) {
            PyObject *result;
            if (method) {
                slots[0] = fn.get();
                result = PyObject_VectorcallMethod(method, slots, n + 1, nullptr);
            } else {
                result = PyObject_Vectorcall(fn.get(), items, n | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                             nullptr);
            }
            for (size_t i = 0; i < n; ++i) Py_DECREF(items[i]);
            fn.reset();
            return complete_with(r, result);
        }
        if (rc < 0) return fail(r, std::move(err));
    }
    if (method) {  // the general path calls the bound method
        PyRef bound(PyObject_GetAttr(fn.get(), method));
        if (!bound) return complete_with(r, nullptr);
        fn = std::move(bound);
    }
    PyRef args(decode_arguments(r->args, arg_types, is_exact_list,
                                "call arguments must be a CBOR array", &err));
    PyRef kwargs(err.ok() ? decode_arguments(r->kwargs, arg_types, is_str_keyed_dict,
                                             "call keyword arguments must be a CBOR map with "
                                             "text keys",
                                             &err)
                          : nullptr);
    if (!err.ok()) return fail(r, std::move(err));
    PyObject *result;
    if (!kwargs) {
        PyObject *const *items = args ? PySequence_Fast_ITEMS(args.get()) : nullptr;
        size_t n = args ? static_cast<size_t>(PyList_GET_SIZE(args.get())) : 0;
        result = PyObject_Vectorcall(fn.get(), items, n, nullptr);
    } else {
        PyRef tuple(args ? PyList_AsTuple(args.get()) : PyTuple_New(0));
        result = tuple ? PyObject_Call(fn.get(), tuple.get(), kwargs.get()) : nullptr;
    }
    fn.reset();
    args.reset();
    kwargs.reset();
    complete_with(r, result);
}

void PyState::run_code(Request *r) {
    // eval and exec differ only in how the text compiles, eval's locals and
    // what exec may leave behind.
    const bool eval = r->kind == RequestKind::eval;
    Error err;
    PyObject *ns = ns_.namespace_for(r->env_id, &err);
    PyRef code(ns ? ns_.compiled(r->text, eval ? Py_eval_input : Py_file_input, &err) : nullptr);
    PyTypes arg_types = types_;  // its buffer tags name r's attached buffers
    arg_types.lent = &r->buffers;
    PyRef locals(code && eval ? decode_arguments(r->args, arg_types, is_str_keyed_dict,
                                                 "eval locals must be a CBOR map with text keys",
                                                 &err)
                              : nullptr);
    if (!err.ok()) return fail(r, std::move(err));
    PyObject *result = PyEval_EvalCode(code.get(), ns, locals ? locals.get() : ns);
    code.reset();
    locals.reset();
    if (!eval) ns_.forget_functions();  // exec may rebind names the call cache resolved
    complete_with(r, result);
}

void PyState::complete_with(Request *r, PyObject *result_in) {
    PyRef result(result_in);
    if (r->is_claimed()) {  // completed elsewhere (cancel, timeout, close)
        // A coroutine that will never run is closed, so Python does not warn
        // that it was never awaited.
        if (result && PyCoro_CheckExact(result.get())) {
            PyRef closed(PyObject_CallMethod(result.get(), "close", nullptr));
        }
        PyErr_Clear();
        return;
    }
    Outcome out;
    if (!result) {
        out.error = fetch_python_error();
    } else if (is_awaitable(result.get())) {
        if (loop_.start_task(r, result.release())) return;
        out.error = fetch_python_error();
    } else {
        encode_result(r, result.get(), out);
    }
    result.reset();
    thread_.complete(r, std::move(out));
}

}  // namespace pyctx::core
