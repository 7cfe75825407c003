// The lookups of one interpreter's requests: the default namespace, envs,
// imported modules, looked-up functions and compiled code, all cached.
// Context thread only, GIL held.
#pragma once

#include "core/python/ref.h"

#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/base/error.h"
#include "core/base/string_map.h"
#include "core/request/request.h"

namespace pyctx::core {

class Namespaces {
public:
    Namespaces() = default;
    Namespaces(const Namespaces &) = delete;
    Namespaces &operator=(const Namespaces &) = delete;

    // Creates the default namespace.
    bool init(Error *err);
    // Drops every cached object.
    void clear();

    PyObject *default_ns() const { return default_ns_; }
    // The globals of env `env_id` (0: the default namespace), created on
    // first use. Borrowed.
    PyObject *namespace_for(uint64_t env_id, Error *err);
    void drop(uint64_t env_id);

    // A new reference to module `r.target`'s attribute path `r.text`
    // ("__main__" names the default namespace and is never cached).
    PyObject *resolve_function(const Request &r, Error *err);
    // Compiled `source` (Py_eval_input or Py_file_input); a new reference.
    PyObject *compiled(const std::string &source, int start, Error *err);
    // Exec code may rebind module attributes: looked-up functions are stale.
    void forget_functions();

private:
    void remember_last(const Request &r, PyObject *fn);

    PyObject *default_ns_ = nullptr;
    std::unordered_map<uint64_t, PyObject *> envs_;
    StringMap<PyObject *> modules_;
    StringMap<PyObject *> functions_;  // key "module\0function"
    StringMap<PyObject *> eval_code_;
    StringMap<PyObject *> exec_code_;
    std::string key_;  // scratch for function keys
    // One-entry cache in front of functions_ (last_fn_ is borrowed from it).
    std::string last_target_, last_text_;
    PyObject *last_fn_ = nullptr;
};

// A fresh globals dict, as a module's would be (new reference).
PyObject *new_namespace();

}  // namespace pyctx::core
