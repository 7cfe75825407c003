// CBOR <-> Python objects, directly (no intermediate tree). This is the value
// contract of include/pyctx.h ("Values: CBOR"), on the hot path of every
// request. Both directions must run with the GIL (or, on a free-threaded
// build, an attached thread state) of the interpreter the types belong to.
#pragma once

// Python.h must come first in every translation unit that includes it.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstddef>
#include <cstdint>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"

namespace pyctx::core {

class ObjectTable;
class AttachedBuffers;  // core/request/buffers.h

// The pyctx module's types, as strong references, for one interpreter
// (subinterpreters each have their own). Filled by load_py_types()
// (core/py_module.h) and released by release_py_types().
struct PyTypes {
    PyObject *symbol_type = nullptr;     // pyctx.Symbol
    PyObject *host_term_type = nullptr;  // pyctx.HostTerm
    PyObject *host_error_type = nullptr; // pyctx.HostError (for the host-call code)
    // The context's object handles, which object-reference tags name
    // (nullptr: such tags are refused).
    const ObjectTable *objects = nullptr;
    PyObject *lent_buffer_type = nullptr;  // pyctx.LentBuffer (core/python/buffer_py.h)
    // While decoding a request's arguments: the buffers its tags name by
    // index (a per-request copy of the types; nullptr everywhere else).
    const AttachedBuffers *lent = nullptr;
};

// Decodes exactly one complete CBOR item filling all of [data, data+len)
// (trailing bytes are an error). Returns a new reference, or nullptr with
// *err set (Status::decode, a message naming the problem and the byte
// offset, e.g. "invalid CBOR at byte 7: text string is not valid UTF-8";
// Status::no_memory when Python runs out of memory). No Python exception is
// left set.
PyObject *cbor_to_python(const uint8_t *data, size_t len, const PyTypes &types, Error *err);

// Fast path for call arguments: decodes a definite-length CBOR array of at
// most `cap` items filling [data, data+len) straight into items[] (new
// references; *out_n set), with no list in between. Returns 0 on success,
// -1 on a decode error (*err set, nothing left allocated), and 1 when the
// input is not such an array (then use cbor_to_python).
int cbor_array_into(const uint8_t *data, size_t len, const PyTypes &types, PyObject **items,
                    size_t cap, size_t *out_n, Error *err);

// Appends the CBOR encoding of obj to out. On failure returns false with
// *err = Status::encode and a message naming the Python type and where it
// was, e.g. "cannot encode Python object of type 'object' (at [2]['k'])";
// out may then hold a partial encoding: discard it. No Python exception may
// be set on entry, and none is left set.
bool python_to_cbor(PyObject *obj, const PyTypes &types, ByteBuffer &out, Error *err);

}  // namespace pyctx::core
