// Object handles: the table (objects.h) and the requests that use it
// (PyState::run_object, PyState::encode_result: every result form).
#include "core/python/objects.h"

#include <sys/random.h>

#include <atomic>
#include <string>

#include "core/base/futex.h"
#include "core/cbor/tags.h"
#include "core/cbor/writer.h"
#include "core/python/buffer_py.h"
#include "core/python/context_thread.h"
#include "core/python/convert.h"
#include "core/python/errors.h"
#include "core/python/py_state.h"

namespace pyctx::core {

namespace {

uint64_t mix(uint64_t z) {  // splitmix64's finalizer: a bijection
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Distinct for every table of this process (a bijection of a counter), and
// unpredictable across processes (the random seed).
uint64_t new_table_key() {
    static const uint64_t seed = [] {
        uint64_t s = 0;
        if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s))
            s = static_cast<uint64_t>(now_ns());
        return s;
    }();
    static std::atomic<uint64_t> counter{0};
    uint64_t k;
    do {
        k = mix(seed + counter.fetch_add(1, std::memory_order_relaxed));
    } while (k == 0);
    return k;
}

}  // namespace

ObjectTable::ObjectTable() : key_(new_table_key()) {}

uint64_t ObjectTable::add(PyObject *obj) {
    const uint64_t id = next_id_++;
    try {
        objects_.emplace(id, obj);
    } catch (const std::bad_alloc &) {
        return 0;
    }
    Py_INCREF(obj);
    return id;
}

PyObject *ObjectTable::get(uint64_t id) const {
    auto it = objects_.find(id);
    return it == objects_.end() ? nullptr : it->second;
}

bool ObjectTable::release(uint64_t id) {
    auto it = objects_.find(id);
    if (it == objects_.end()) return false;
    PyObject *obj = it->second;
    objects_.erase(it);  // first: a __del__ may use the table
    Py_DECREF(obj);
    return true;
}

void ObjectTable::clear() {
    std::unordered_map<uint64_t, PyObject *> dropped;
    dropped.swap(objects_);
    for (auto &[id, obj] : dropped) Py_DECREF(obj);
    PyErr_Clear();
}

Error ObjectTable::missing(uint64_t id) const {
    return Error(Status::invalid_argument,
                 "object handle " + std::to_string(id) +
                     " is not alive in this context (released, or never made here)");
}

bool ObjectTable::write_ref(ByteBuffer &out, uint64_t id) const {
    return cbor::write_head(out, cbor::Major::tag, cbor::kTagObjectRef) &&
           cbor::write_head(out, cbor::Major::array, 2) && cbor::write_uint(out, key_) &&
           cbor::write_uint(out, id);
}

PyObject *ObjectTable::resolve(uint64_t key, uint64_t id, std::string *why) const {
    if (key != key_) {
        *why = "object reference " + std::to_string(id) + " belongs to another context";
        return nullptr;
    }
    PyObject *obj = get(id);
    if (!obj) {
        *why = "object reference " + std::to_string(id) +
               " is not alive in this context (released, or never made here)";
        return nullptr;
    }
    return new_ref(obj);
}

// ---------------------------------------------------------------------------
// the object request kinds

void PyState::run_object(Request *r) {
    PyObject *target = objects_.get(r->object_id);
    if (!target) return fail(r, objects_.missing(r->object_id));
    if (r->kind == RequestKind::release) {
        objects_.release(r->object_id);
        PyErr_Clear();  // a failing __del__ is reported by Python, not here
        Outcome out;
        if (!cbor::write_null(out.value)) return fail(r, Error(Status::no_memory, "out of memory"));
        return thread_.complete(r, std::move(out));
    }
    // Held while used: the call may release its own handle.
    PyRef obj = PyRef::borrow(target);
    switch (r->kind) {
        case RequestKind::getattr:
            return complete_with(r, PyObject_GetAttrString(obj.get(), r->text.c_str()));
        case RequestKind::method_call: {
            // Held for the call: a nested request may clear the name cache.
            PyRef name = PyRef::borrow(method_name(r->text));
            if (!name) return complete_with(r, nullptr);
            return call_object(r, std::move(obj), name.get());
        }
        default:
            return call_object(r, std::move(obj));
    }
}

PyObject *PyState::method_name(const std::string &text) {
    auto it = method_names_.find(text);
    if (it != method_names_.end()) return it->second.get();
    PyRef name(PyUnicode_InternFromString(text.c_str()));
    if (!name) return nullptr;
    // A host that calls ever new names does not grow this without bound.
    if (method_names_.size() >= 256) method_names_.clear();
    return method_names_.emplace(text, std::move(name)).first->second.get();
}

bool PyState::encode_result(Request *r, PyObject *result, Outcome &out) {
    switch (r->result_form) {
        case ResultForm::value:
            if (python_to_cbor(result, types_, out.value, &out.error)) return true;
            out.value.clear();
            return false;
        case ResultForm::object: {
            const uint64_t id = objects_.add(result);
            if (!id || !objects_.write_ref(out.value, id)) {
                if (id) objects_.release(id);
                out.value.clear();
                out.error = Error(Status::no_memory, "out of memory making an object handle");
                return false;
            }
            out.object_id = id;
            return true;
        }
        case ResultForm::buffer:
            return result_as_buffer(result, thread_, &out);
        case ResultForm::stream:
            if (!streams_.open(r->id, result, &out.error)) return false;
            if (cbor::write_null(out.value)) return true;
            out.error = Error(Status::no_memory, "out of memory");
            return false;
    }
    return false;
}

void PyState::drop_unclaimed(const Request &r, uint64_t object_id) {
    drop_result(r.id, r.result_form, object_id);
}

void PyState::drop_result(uint64_t request_id, ResultForm form, uint64_t object_id) {
    if (object_id) objects_.release(object_id);
    if (form == ResultForm::stream) streams_.discard(request_id);
    PyErr_Clear();
}

}  // namespace pyctx::core
