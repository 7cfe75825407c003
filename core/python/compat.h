// Small shims over CPython API differences between 3.9 and 3.13.
#pragma once

#include <Python.h>

namespace pyctx::core {

// The current exception (normalized, with its traceback), or nullptr.
inline PyObject *take_raised_exception() {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

// Sets `exc` (stolen; nullptr: nothing) as the current exception again.
inline void restore_raised_exception(PyObject *exc) {
    if (!exc) return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(exc));
    Py_INCREF(type);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
#endif
}

// Raises the exception set now (taken) in place of `original` (stolen),
// with `original` as its __cause__; when none is set (making it failed),
// `original` is raised again, so an error is never lost.
inline void raise_in_place_of(PyObject *original) {
    PyObject *replacement = take_raised_exception();
    if (!replacement) {
        restore_raised_exception(original);
        return;
    }
    PyException_SetCause(replacement, original);
    restore_raised_exception(replacement);
}

}  // namespace pyctx::core
