#include "core/python/store_py.h"

#include <string>

#include "core/host/store.h"
#include "core/python/embed.h"
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

}  // namespace

PyObject *store_py_get(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (refuse_in_process_child("pyctx.store_get()")) return nullptr;
    std::string_view key;
    if (!arity("store_get", nargs, 1, 2) || !key_of(args[0], &key)) return nullptr;
    std::string value;
    if (!shared_store().get(key, &value, nullptr)) return new_ref(nargs > 1 ? args[1] : Py_None);
    return decode_local(value);
}

PyObject *store_py_entry(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (refuse_in_process_child("pyctx.store_entry()")) return nullptr;
    std::string_view key;
    if (!arity("store_entry", nargs, 1, 1) || !key_of(args[0], &key)) return nullptr;
    std::string value;
    uint64_t version = 0;
    if (!shared_store().get(key, &value, &version)) Py_RETURN_NONE;
    PyRef v(decode_local(value));
    if (!v) return nullptr;
    return Py_BuildValue("(OK)", v.get(), static_cast<unsigned long long>(version));
}

PyObject *store_py_put(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (refuse_in_process_child("pyctx.store_put()")) return nullptr;
    std::string_view key;
    if (!arity("store_put", nargs, 2, 2) || !key_of(args[0], &key)) return nullptr;
    ByteBuffer cbor;
    if (!encode(args[1], cbor)) return nullptr;
    uint64_t version = 0;
    if (Error e = shared_store().put(key, cbor.data(), cbor.size(), &version); !e.ok())
        return raise_store_error(e);
    return PyLong_FromUnsignedLongLong(version);
}

PyObject *store_py_cas(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (refuse_in_process_child("pyctx.store_cas()")) return nullptr;
    std::string_view key;
    uint64_t expected = 0;
    if (!arity("store_cas", nargs, 3, 3) || !key_of(args[0], &key) || !version_of(args[1], &expected))
        return nullptr;
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
    if (refuse_in_process_child("pyctx.store_delete()")) return nullptr;
    std::string_view key;
    uint64_t expected = Store::kAbsent;
    if (!arity("store_delete", nargs, 1, 2) || !key_of(args[0], &key)) return nullptr;
    if (nargs > 1 && !version_of(args[1], &expected)) return nullptr;
    return PyBool_FromLong(shared_store().erase(key, expected));
}

PyObject *store_py_keys(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (refuse_in_process_child("pyctx.store_keys()")) return nullptr;
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
