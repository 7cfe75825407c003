#include "core/python/send_py.h"

#include <string>

#include "core/cbor/writer.h"
#include "core/host/endpoints.h"
#include "core/host/builtin_calls.h"
#include "core/python/embed.h"
#include "core/python/host_calls.h"
#include "core/python/local_types.h"

namespace pyctx::core {

namespace {

// Reused encoding buffers of this OS thread (plain bytes: no Python objects,
// so they are safe across interpreters).
thread_local ByteBuffer t_target, t_value;

PyObject *send_failed(PyObject *module, bool missing_ok, const std::string &message) {
    if (missing_ok) Py_RETURN_FALSE;
    PyErr_SetString(module_send_error(module), message.c_str());
    return nullptr;
}

bool parse(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, bool *missing_ok) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 3 || nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "pyctx.send() takes (target, value, missing_ok=False)");
        return false;
    }
    PyObject *flag = nargs == 3 ? args[2] : nullptr;
    for (Py_ssize_t i = 0; i < nkw; ++i) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "missing_ok") != 0 || flag) {
            PyErr_Format(PyExc_TypeError, "pyctx.send() got an unexpected keyword argument '%U'",
                         name);
            return false;
        }
        flag = args[nargs + i];
    }
    int v = flag ? PyObject_IsTrue(flag) : 0;
    if (v < 0) return false;
    *missing_ok = v != 0;
    return true;
}

// A process context's child: the host's endpoints, through the ring. The
// call waits for the host to hand the message over (never for its
// receiver), so the messages of one sender keep their order.
PyObject *send_from_child(PyObject *module, PyObject *target, PyObject *value, bool missing_ok) {
    PyObject *args[3] = {target, value, PyUnicode_CheckExact(target) ? Py_True : Py_False};
    PyRef answer(call_host_builtin(builtin::kSend, args, 3));
    if (!answer) return nullptr;
    if (!PyList_Check(answer.get()) || PyList_GET_SIZE(answer.get()) < 1) {
        PyErr_SetString(PyExc_RuntimeError, "the host answered pyctx.send() malformed");
        return nullptr;
    }
    if (PyList_GET_ITEM(answer.get(), 0) == Py_True) Py_RETURN_TRUE;
    const char *message = PyList_GET_SIZE(answer.get()) > 1
                              ? PyUnicode_AsUTF8(PyList_GET_ITEM(answer.get(), 1))
                              : "the host did not deliver the message";
    if (!message) return nullptr;
    return send_failed(module, missing_ok, message);
}

}  // namespace

PyObject *send_py(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    bool missing_ok = false;
    if (!parse(args, nargs, kwnames, &missing_ok)) return nullptr;
    if (in_process_child()) return send_from_child(module, args[0], args[1], missing_ok);
    PyObject *target = args[0];
    LocalTypes types;
    if (!types.get()) return nullptr;
    ByteBuffer &tbuf = t_target, &vbuf = t_value;
    tbuf.clear_keeping(1 << 16);
    vbuf.clear_keeping(1 << 16);
    Error err;
    if (!python_to_cbor(target, *types.get(), tbuf, &err)) {
        PyErr_Format(PyExc_TypeError, "pyctx.send() target: %s", err.message.c_str());
        return nullptr;
    }
    if (!python_to_cbor(args[1], *types.get(), vbuf, &err)) {
        raise_conversion_error(err);
        return nullptr;
    }
    // An exact str names an endpoint the host registered; anything else
    // (HostTerm, Symbol, tuple, ...) goes to the router.
    std::shared_ptr<Endpoint> ep;
    std::string name;
    if (PyUnicode_CheckExact(target)) {
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(target, &n);
        if (!s) return nullptr;
        name.assign(s, static_cast<size_t>(n));
        ep = endpoints().find(name);
        if (!ep) return send_failed(module, missing_ok, "no endpoint named '" + name + "' is registered");
    } else {
        ep = endpoints().router();
        if (!ep)
            return send_failed(module, missing_ok,
                               std::string("no router is set for targets of type '") +
                                   Py_TYPE(target)->tp_name + "'");
    }
    ContextThread *thread = ContextThread::current();
    Message m{thread ? std::string_view(thread->context_name()) : std::string_view(),
              tbuf.data(), tbuf.size(), vbuf.data(), vbuf.size()};
    bool delivered;
    Py_BEGIN_ALLOW_THREADS
    delivered = ep->deliver(m);
    ep.reset();  // may run the finalizer of an endpoint removed meanwhile
    Py_END_ALLOW_THREADS
    if (delivered) Py_RETURN_TRUE;
    if (!name.empty()) return send_failed(module, missing_ok, "endpoint '" + name + "' is closed");
    PyRef repr(PyObject_Repr(target));
    const char *r = repr ? PyUnicode_AsUTF8(repr.get()) : nullptr;
    PyErr_Clear();
    return send_failed(module, missing_ok,
                       std::string("the target ") + (r ? r : "?") + " is gone (not alive)");
}

}  // namespace pyctx::core
