// The Python side of the shared store (core/host/store.h): functions of the
// pyctx module. They hold the store's shard lock only for a copy, never
// across Python code, so they need not release the GIL.
#pragma once

#include "core/python/ref.h"

namespace pyctx::core {

// store_get(key, default=None)         -> value or default
// store_entry(key)                     -> (value, version) or None
// store_put(key, value)                -> version
// store_cas(key, expected_version, value) -> new version, or None on conflict
// store_delete(key, version=0)         -> bool
// store_keys(prefix="")                -> sorted list of str
PyObject *store_py_get(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *store_py_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *store_py_put(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *store_py_cas(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *store_py_delete(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *store_py_keys(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

}  // namespace pyctx::core
