// The pyctx types of the interpreter the calling Python thread runs in: the
// context thread's own (no cost), or, on a Python thread that user code
// started, loaded for the duration of one call.
#pragma once

#include <string>

#include "core/python/context_thread.h"
#include "core/python/convert.h"
#include "core/python/module.h"
#include "core/python/py_state.h"

namespace pyctx::core {

class LocalTypes {
public:
    LocalTypes() {
        if (ContextThread *t = ContextThread::current()) {
            types_ = &t->py().types();
        } else if (load_py_types(&loaded_, nullptr)) {
            types_ = &loaded_;
        }
    }
    ~LocalTypes() {
        if (types_ == &loaded_) release_py_types(&loaded_);
    }
    LocalTypes(const LocalTypes &) = delete;
    LocalTypes &operator=(const LocalTypes &) = delete;

    // nullptr with a Python exception set when the types could not be loaded.
    const PyTypes *get() const { return types_; }

private:
    const PyTypes *types_ = nullptr;
    PyTypes loaded_;
};

// Raises TypeError/ValueError for a failed conversion (no exception is set
// by the converters themselves).
inline void raise_conversion_error(const Error &err) {
    PyErr_SetString(err.status == Status::no_memory ? PyExc_MemoryError
                    : err.status == Status::encode  ? PyExc_TypeError
                                                    : PyExc_ValueError,
                    err.message.c_str());
}

// CBOR (held in a string) to a new Python object with the calling thread's
// types; nullptr with the exception set.
inline PyObject *decode_local(const std::string &cbor) {
    LocalTypes types;
    if (!types.get()) return nullptr;
    Error err;
    PyObject *v = cbor_to_python(reinterpret_cast<const uint8_t *>(cbor.data()), cbor.size(),
                                 *types.get(), &err);
    if (!v) raise_conversion_error(err);
    return v;
}

}  // namespace pyctx::core
