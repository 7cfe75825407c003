// Object handles, the Python side: the table of one context's live handles
// (id -> a strong reference to a Python object). It lives with the rest of
// the per-context Python state (PyState), so whatever runs that state -- the
// in-process context thread today, a child process's main thread tomorrow --
// holds its own table by the same code.
//
// Across the executor seam a handle is plain data: a context-local integer
// id, carried by requests (object_call, method_call, getattr, release: see
// core/request/request.h) and, inside CBOR values, by the object-reference
// tag (core/cbor/tags.h kTagObjectRef) enclosing [table key, id]. The key is
// a 64-bit number unique to this table (distinct for every context of the
// process, random across processes), so a reference copied into a request
// to another context is refused instead of naming an unrelated object.
//
// Context thread only, GIL held.
#pragma once

#include "core/python/ref.h"

#include <cstdint>
#include <unordered_map>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"

namespace pyctx::core {

class ObjectTable {
public:
    ObjectTable();
    ObjectTable(const ObjectTable &) = delete;
    ObjectTable &operator=(const ObjectTable &) = delete;
    ~ObjectTable() = default;  // clear() runs first, with the GIL (PyState::clear)

    uint64_t key() const { return key_; }
    size_t size() const { return objects_.size(); }

    // Keeps a new reference to `obj`; returns its id (0 when out of memory).
    uint64_t add(PyObject *obj);
    // The object of `id` (borrowed), or nullptr.
    PyObject *get(uint64_t id) const;
    // Drops the reference of `id` (which may run Python code, e.g. __del__).
    // False when `id` is not in the table.
    bool release(uint64_t id);
    // Drops every reference (context close).
    void clear();
    // Ids from here on start at `first` (before the first add): a process
    // context's child numbers them by its generation (wire.h).
    void number_from(uint64_t first) { next_id_ = first; }

    // The error for an id that is not (or no longer) in the table.
    Error missing(uint64_t id) const;
    // Appends the object-reference CBOR of `id`: tag, [key, id].
    bool write_ref(ByteBuffer &out, uint64_t id) const;
    // Resolves a decoded reference (a new reference), or nullptr with *why
    // set to the reason it cannot be used here.
    PyObject *resolve(uint64_t key, uint64_t id, std::string *why) const;

private:
    const uint64_t key_;
    uint64_t next_id_ = 1;
    std::unordered_map<uint64_t, PyObject *> objects_;
};

}  // namespace pyctx::core
