#include "core/python/py_state.h"

#include "core/python/errors.h"
#include "core/python/host_calls.h"
#include "core/python/import_guard.h"
#include "core/python/module.h"
#include "core/python/setup_py.h"

namespace pyctx::core {

namespace {

// Puts the runtime's extra paths at the front of this interpreter's
// sys.path (worker contexts share one sys.path: entries already there are
// left alone).
bool add_search_paths(const std::vector<std::string> &paths) {
    if (paths.empty()) return true;
    PyObject *sys_path = PySys_GetObject("path");  // borrowed
    if (!sys_path || !PyList_Check(sys_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return false;
    }
    Py_ssize_t at = 0;
    for (const auto &p : paths) {
        PyRef entry(PyUnicode_DecodeFSDefaultAndSize(p.data(), static_cast<Py_ssize_t>(p.size())));
        if (!entry) return false;
        int present = PySequence_Contains(sys_path, entry.get());
        int rc = present == 0 ? PyList_Insert(sys_path, at++, entry.get()) : present;
        if (rc < 0) return false;
    }
    return true;
}

}  // namespace

bool PyState::init(const std::vector<std::string> &search_paths, const std::string &preload,
                   Error *err) {
    // First, so that every extension this interpreter imports is guarded.
    if (!install_import_guard(err)) return false;
    if (!load_py_types(&types_, err)) return false;
    if (!add_search_paths(search_paths)) {
        *err = fetch_python_error();
        return false;
    }
    // A failed set-up step does not fail the context: its first request
    // reports it, as a running context's next request would.
    apply_runtime_setup(&setup_seen_, &setup_error_);
    if (!ns_.init(err)) return false;
    if (!preload.empty()) {
        PyRef code(Py_CompileString(preload.c_str(), "<pyctx-preload>", Py_file_input));
        PyRef res(code ? PyEval_EvalCode(code.get(), ns_.default_ns(), ns_.default_ns()) : nullptr);
        if (!res) {
            *err = fetch_python_error();
            return false;
        }
    }
    return true;
}

void PyState::clear() {
    // Streams and handles first: closing a generator or dropping an object
    // may run Python code that needs the loop.
    streams_.clear();
    objects_.clear();
    loop_.clear();
    abandon_awaited_host_calls(*this);
    ns_.clear();
    method_names_.clear();
    release_py_types(&types_);
    PyErr_Clear();
}

}  // namespace pyctx::core
