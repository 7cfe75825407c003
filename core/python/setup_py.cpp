#include "core/python/setup_py.h"

#include "core/python/errors.h"
#include "core/python/module.h"
#include "core/python/ref.h"

#include <vector>

namespace pyctx::core {

namespace {

PyObject *fs_str(const std::string &s) {
    return PyUnicode_DecodeFSDefaultAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyObject *sys_path() {
    PyObject *p = PySys_GetObject("path");  // borrowed
    if (!p || !PyList_Check(p)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return nullptr;
    }
    return p;
}

bool add_path(const std::string &path) {
    PyObject *sp = sys_path();
    PyRef entry(fs_str(path));
    if (!sp || !entry) return false;
    int present = PySequence_Contains(sp, entry.get());
    if (present < 0) return false;
    return present == 1 || PyList_Insert(sp, 0, entry.get()) == 0;
}

bool remove_path(const std::string &path) {
    PyObject *sp = sys_path();
    PyRef entry(fs_str(path));
    if (!sp || !entry) return false;
    for (Py_ssize_t i = PyList_GET_SIZE(sp) - 1; i >= 0; --i) {
        int eq = PyObject_RichCompareBool(PyList_GET_ITEM(sp, i), entry.get(), Py_EQ);
        if (eq < 0 || (eq == 1 && PySequence_DelItem(sp, i) < 0)) return false;
    }
    return true;
}

bool reload_module(const std::string &name) {
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    PyRef key(PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size())));
    if (!key) return false;
    PyObject *mod = PyDict_GetItemWithError(modules, key.get());  // borrowed
    if (!mod) return !PyErr_Occurred();  // never imported here: nothing to reload
    PyRef importlib(PyImport_ImportModule("importlib"));
    PyRef r(importlib ? PyObject_CallMethod(importlib.get(), "reload", "O", mod) : nullptr);
    return static_cast<bool>(r);
}

// site.addsitedir() (which also runs the .pth files), with the new entries
// moved in front of the interpreter's own, and sys.prefix pointing at the
// virtualenv, as its activation script does.
const char kActivate[] =
    "def _pyctx_activate(site_packages, prefix):\n"
    "    import site, sys\n"
    "    before = list(sys.path)\n"
    "    site.addsitedir(site_packages)\n"
    "    new = [p for p in sys.path if p not in before]\n"
    "    sys.path[:] = new + [p for p in sys.path if p not in new]\n"
    "    sys.prefix = sys.exec_prefix = prefix\n";

bool run_code(const std::string &code, const char *filename, PyObject **ns_out = nullptr) {
    PyRef ns(PyDict_New());
    if (!ns || PyDict_SetItemString(ns.get(), "__builtins__", PyEval_GetBuiltins()) < 0) return false;
    PyRef compiled(Py_CompileString(code.c_str(), filename, Py_file_input));
    PyRef r(compiled ? PyEval_EvalCode(compiled.get(), ns.get(), ns.get()) : nullptr);
    if (!r) return false;
    if (ns_out) *ns_out = ns.release();
    return true;
}

bool activate_venv(const std::string &site_packages, const std::string &prefix) {
    PyObject *ns_raw = nullptr;
    if (!run_code(kActivate, "<pyctx-venv>", &ns_raw)) return false;
    PyRef ns(ns_raw);
    PyObject *fn = PyDict_GetItemString(ns.get(), "_pyctx_activate");  // borrowed
    PyRef sp(fs_str(site_packages)), pre(fs_str(prefix));
    PyRef r(fn && sp && pre ? PyObject_CallFunctionObjArgs(fn, sp.get(), pre.get(), nullptr) : nullptr);
    return static_cast<bool>(r);
}

bool apply(const SetupStep &s) {
    using K = SetupStep::Kind;
    switch (s.kind) {
        case K::add_path: return add_path(s.arg);
        case K::remove_path: return remove_path(s.arg);
        case K::import_module: {
            PyRef m(PyImport_ImportModule(s.arg.c_str()));
            return static_cast<bool>(m);
        }
        case K::remove_import: return true;  // already imported here: stays
        case K::reload_module: return reload_module(s.arg);
        case K::activate_venv: return activate_venv(s.arg, s.arg2);
        case K::run_code: return run_code(s.arg, "<pyctx-setup>");
    }
    return true;
}

}  // namespace

bool apply_runtime_setup(uint64_t *seen, Error *err) {
    uint64_t gen = setup_log().generation();
    PyRef module(PyImport_ImportModule("pyctx"));
    std::atomic<uint64_t> *applied = module ? module_setup_applied(module.get()) : nullptr;
    if (!applied) {
        *err = Error(Status::internal, "cannot replay the runtime set-up: " + take_python_error_text());
        return false;
    }
    bool ok = true;
    for (;;) {
        uint64_t from = applied->load(std::memory_order_acquire);
        if (from >= gen) break;
        // Claim the window for this interpreter; another worker context may
        // have claimed it (its GIL released in an import): it applies it.
        if (!applied->compare_exchange_strong(from, gen, std::memory_order_acq_rel)) continue;
        std::vector<SetupStep> steps = setup_log().window(from, gen, from == 0);
        for (const SetupStep &step : steps) {
            if (!apply(step) && ok) {
                ok = false;
                *err = fetch_python_error();
                err->message = "runtime set-up (" + step.describe() + ") failed: " + err->message;
            }
            PyErr_Clear();
        }
    }
    *seen = gen;
    return ok;
}

}  // namespace pyctx::core
