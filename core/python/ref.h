// PyRef: the one owned-reference type of the Python glue, so that early
// returns (and a std::bad_alloc thrown while building a message) never leak
// Python objects. Use it in new code instead of manual Py_DECREF pairs.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <utility>

namespace pyctx::core {

class PyRef {
public:
    PyRef() = default;
    explicit PyRef(PyObject *owned) : o_(owned) {}  // adopts a new reference
    static PyRef borrow(PyObject *borrowed) {
        Py_XINCREF(borrowed);
        return PyRef(borrowed);
    }
    PyRef(const PyRef &) = delete;
    PyRef &operator=(const PyRef &) = delete;
    PyRef(PyRef &&o) noexcept : o_(o.release()) {}
    PyRef &operator=(PyRef &&o) noexcept {
        reset(o.release());
        return *this;
    }
    ~PyRef() { Py_XDECREF(o_); }

    PyObject *get() const { return o_; }
    // Gives up ownership (a new reference for the caller).
    PyObject *release() {
        PyObject *o = o_;
        o_ = nullptr;
        return o;
    }
    void reset(PyObject *owned = nullptr) {
        PyObject *old = o_;
        o_ = owned;
        Py_XDECREF(old);
    }
    explicit operator bool() const { return o_ != nullptr; }

private:
    PyObject *o_ = nullptr;
};

// A new reference to a borrowed object, for `return new_ref(Py_None)`.
inline PyObject *new_ref(PyObject *o) {
    Py_INCREF(o);
    return o;
}

}  // namespace pyctx::core
