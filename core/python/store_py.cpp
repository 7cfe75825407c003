#include "core/python/store_py.h"

#include <initializer_list>
#include <string>

#include "core/host/store.h"
#include "core/host/builtin_calls.h"
#include "core/python/embed.h"
#include "core/python/host_calls.h"
#include "core/python/local_types.h"

namespace pyctx::core {

namespace {

bool arity(const char *fn, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi) {
    if (nargs >= lo && nargs <= hi) return true;
    if (lo == hi)
        PyErr_Format(PyExc_TypeError, "pyctx.%s() takes %zd arguments (%zd given)", fn, lo, nargs);
    else
        PyErr_Format(PyExc_TypeError, "pyctx.%s() takes %zd to %zd arguments (%zd given)", fn, lo,
                     hi, nargs);
    return false;
}

// The key as UTF-8 (borrowed from the str); false with an exception set.
bool key_of(PyObject *obj, std::string_view *out) {
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "store key must be str, not '%s'", Py_TYPE(obj)->tp_name);
        return false;
    }
    Py_ssize_t n = 0;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (!s) return false;
    *out = std::string_view(s, static_cast<size_t>(n));
    if (Error e = check_store_key(*out); !e.ok()) {
        PyErr_SetString(PyExc_ValueError, e.message.c_str());
        return false;
    }
    return true;
}

bool version_of(PyObject *obj, uint64_t *out) {
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "store version must be int, not '%s'", Py_TYPE(obj)->tp_name);
        return false;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "store version must be between 0 and 2**64-1");
        return false;
    }
    *out = v;
    return true;
}

bool encode(PyObject *value, ByteBuffer &out) {
    LocalTypes types;
    if (!types.get()) return false;
    Error err;
    if (!python_to_cbor(value, *types.get(), out, &err)) {
        raise_conversion_error(err);
        return false;
    }
    return true;
}


PyObject *raise_store_error(const Error &e) {
    raise_conversion_error(e);
    return nullptr;
}

// ---- in a process context's child: the host's store, through the ring

// One store call to the host: [op, key, extra...] (builtin_calls.h has the
// answers). A new reference to the decoded answer, a list.
PyObject *remote(builtin::StoreOp op, PyObject *key, std::initializer_list<PyObject *> extra = {}) {
    PyRef code(PyLong_FromLong(static_cast<long>(op)));
    if (!code) return nullptr;
    PyObject *vec[4] = {code.get(), key};
    Py_ssize_t n = 2;
    for (PyObject *e : extra) vec[n++] = e;  // at most two
    return call_host_builtin(builtin::kStore, vec, n);
}

bool is_list(PyObject *answer, Py_ssize_t min_len) {
    if (PyList_Check(answer) && PyList_GET_SIZE(answer) >= min_len) return true;
    PyErr_SetString(PyExc_RuntimeError, "the host answered a store call malformed");
    return false;
}

// put and cas answer [True, ...] or [False, status, message].
bool remote_ok(PyObject *answer) {
    if (!is_list(answer, 2)) return false;
    if (PyList_GET_ITEM(answer, 0) == Py_True) return true;
    if (PyList_GET_SIZE(answer) < 3) return is_list(answer, 3);
    long status = PyLong_AsLong(PyList_GET_ITEM(answer, 1));
    const char *message = PyUnicode_AsUTF8(PyList_GET_ITEM(answer, 2));
    if (!message) return false;
    raise_conversion_error(Error(static_cast<Status>(status), message));
    return false;
}

}  // namespace

PyObject *store_py_get(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    std::string_view key;
    if (!arity("store_get", nargs, 1, 2) || !key_of(args[0], &key)) return nullptr;
    if (in_process_child()) {
        PyRef answer(remote(builtin::StoreOp::get, args[0]));
        if (!answer || !is_list(answer.get(), 0)) return nullptr;
        if (PyList_GET_SIZE(answer.get()) == 0) return new_ref(nargs > 1 ? args[1] : Py_None);
        return new_ref(PyList_GET_ITEM(answer.get(), 0));
    }
    std::string value;
    if (!shared_store().get(key, &value, nullptr)) return new_ref(nargs > 1 ? args[1] : Py_None);
    return decode_local(value);
}

PyObject *store_py_entry(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    std::string_view key;
    if (!arity("store_entry", nargs, 1, 1) || !key_of(args[0], &key)) return nullptr;
    if (in_process_child()) {
        PyRef answer(remote(builtin::StoreOp::get, args[0]));
        if (!answer || !is_list(answer.get(), 0)) return nullptr;
        if (PyList_GET_SIZE(answer.get()) == 0) Py_RETURN_NONE;
        if (!is_list(answer.get(), 2)) return nullptr;
        return PyTuple_Pack(2, PyList_GET_ITEM(answer.get(), 0), PyList_GET_ITEM(answer.get(), 1));
    }
    std::string value;
    uint64_t version = 0;
    if (!shared_store().get(key, &value, &version)) Py_RETURN_NONE;
    PyRef v(decode_local(value));
    if (!v) return nullptr;
    return Py_BuildValue("(OK)", v.get(), static_cast<unsigned long long>(version));
}

PyObject *store_py_put(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    std::string_view key;
    if (!arity("store_put", nargs, 2, 2) || !key_of(args[0], &key)) return nullptr;
    if (in_process_child()) {
        PyRef answer(remote(builtin::StoreOp::put, args[0], {args[1]}));
        if (!answer || !remote_ok(answer.get())) return nullptr;
        return new_ref(PyList_GET_ITEM(answer.get(), 1));
    }
    ByteBuffer cbor;
    if (!encode(args[1], cbor)) return nullptr;
    uint64_t version = 0;
    if (Error e = shared_store().put(key, cbor.data(), cbor.size(), &version); !e.ok())
        return raise_store_error(e);
    return PyLong_FromUnsignedLongLong(version);
}

PyObject *store_py_cas(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    std::string_view key;
    uint64_t expected = 0;
    if (!arity("store_cas", nargs, 3, 3) || !key_of(args[0], &key) || !version_of(args[1], &expected))
        return nullptr;
    if (in_process_child()) {
        PyRef answer(remote(builtin::StoreOp::cas, args[0], {args[1], args[2]}));
        if (!answer || !remote_ok(answer.get()) || !is_list(answer.get(), 3)) return nullptr;
        if (PyList_GET_ITEM(answer.get(), 1) != Py_True) Py_RETURN_NONE;
        return new_ref(PyList_GET_ITEM(answer.get(), 2));
    }
    ByteBuffer cbor;
    if (!encode(args[2], cbor)) return nullptr;
    bool swapped = false;
    uint64_t version = 0;
    if (Error e = shared_store().cas(key, expected, cbor.data(), cbor.size(), &swapped, &version);
        !e.ok())
        return raise_store_error(e);
    if (!swapped) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(version);
}

PyObject *store_py_delete(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    std::string_view key;
    uint64_t expected = Store::kAbsent;
    if (!arity("store_delete", nargs, 1, 2) || !key_of(args[0], &key)) return nullptr;
    if (nargs > 1 && !version_of(args[1], &expected)) return nullptr;
    if (in_process_child()) {
        PyRef version(PyLong_FromUnsignedLongLong(expected));
        if (!version) return nullptr;
        PyRef answer(remote(builtin::StoreOp::erase, args[0], {version.get()}));
        if (!answer) return nullptr;
        return PyBool_FromLong(answer.get() == Py_True);
    }
    return PyBool_FromLong(shared_store().erase(key, expected));
}

PyObject *store_py_keys(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (!arity("store_keys", nargs, 0, 1)) return nullptr;
    std::string_view prefix;
    if (nargs == 1) {
        if (!PyUnicode_Check(args[0])) {
            PyErr_SetString(PyExc_TypeError, "store_keys() prefix must be str");
            return nullptr;
        }
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(args[0], &n);
        if (!s) return nullptr;
        prefix = std::string_view(s, static_cast<size_t>(n));
    }
    if (in_process_child()) {
        PyRef p(PyUnicode_FromStringAndSize(prefix.data(), static_cast<Py_ssize_t>(prefix.size())));
        if (!p) return nullptr;
        PyRef answer(remote(builtin::StoreOp::keys, p.get()));
        if (!answer || !is_list(answer.get(), 0)) return nullptr;
        return answer.release();
    }
    std::vector<std::string> keys = shared_store().keys(prefix);
    PyRef list(PyList_New(static_cast<Py_ssize_t>(keys.size())));
    if (!list) return nullptr;
    for (size_t i = 0; i < keys.size(); ++i) {
        PyObject *k = PyUnicode_DecodeUTF8(keys[i].data(), static_cast<Py_ssize_t>(keys[i].size()),
                                           nullptr);
        if (!k) return nullptr;
        PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), k);
    }
    return list.release();
}

}  // namespace pyctx::core
