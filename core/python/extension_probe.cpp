#include "core/python/extension_probe.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include "core/python/compat.h"
#include "core/python/errors.h"
#include "core/python/import_guard.h"
#include "core/python/import_lock.h"
#include "core/python/main_interpreter.h"
#include "core/python/ref.h"

namespace pyctx::core {

#if PY_VERSION_HEX >= 0x030C0000

namespace {

struct Target {
    std::string name;    // UTF-8
    std::string origin;  // file system encoding
    std::string key() const { return name + '\0' + origin; }
};

// The spec's name and origin; false (no exception) when they are not
// strings, and CPython is left to report the spec.
bool target_of(PyObject *spec, Target *out) {
    PyRef name(PyObject_GetAttrString(spec, "name"));
    PyRef origin(name ? PyObject_GetAttrString(spec, "origin") : nullptr);
    PyRef origin_bytes(origin && PyUnicode_Check(origin.get())
                           ? PyUnicode_EncodeFSDefault(origin.get())
                           : nullptr);
    Py_ssize_t n = 0;
    const char *name_utf8 = name && PyUnicode_Check(name.get())
                                ? PyUnicode_AsUTF8AndSize(name.get(), &n)
                                : nullptr;
    if (!name_utf8 || !origin_bytes) {
        PyErr_Clear();
        return false;
    }
    out->name.assign(name_utf8, static_cast<size_t>(n));
    out->origin.assign(PyBytes_AS_STRING(origin_bytes.get()),
                       static_cast<size_t>(PyBytes_GET_SIZE(origin_bytes.get())));
    return true;
}


constexpr const char kWhere[] =
    "It runs in worker contexts (the main interpreter of this process) and in process "
    "contexts (the main interpreter of a child process, in parallel with the others).";

void set_refusal(PyObject *spec, const std::string &name, const std::string &why) {
    PyRef msg(PyUnicode_FromFormat(
        "module '%s' cannot be imported in an owngil context: %s. %s", name.c_str(), why.c_str(),
        kWhere));
    PyRef pyname(PyObject_GetAttrString(spec, "name"));
    PyRef path(pyname ? PyObject_GetAttrString(spec, "origin") : nullptr);
    PyErr_Clear();
    if (msg) PyErr_SetImportError(msg.get(), pyname.get(), path.get());
}

#if PY_VERSION_HEX < 0x030D0000
// 3.12 only: 3.13 calls PyInit_ of a subinterpreter's extension in the main
// interpreter itself (and creating an unexecuted _datetime there and
// dropping it corrupts 3.13's static datetime types).

enum class Verdict { unknown, allowed, refused };

// (name, file) -> verdict, for the life of the process: whether a module
// file uses single-phase init does not change, even across a runtime
// re-initialization.
class Registry {
public:
    Verdict find(const std::string &key) {
        std::lock_guard<std::mutex> g(mu_);
        auto it = map_.find(key);
        return it == map_.end() ? Verdict::unknown : it->second;
    }
    void record(const std::string &key, Verdict v) {
        std::lock_guard<std::mutex> g(mu_);
        map_[key] = v;
    }

private:
    std::mutex mu_;
    std::unordered_map<std::string, Verdict> map_;
};

Registry &registry() {
    static Registry *r = new Registry;  // never destroyed (pinned threads)
    return *r;
}

// A loaded module's verdict. CPython's rule: a single-phase module's
// PyModuleDef has no slots. A multi-phase definition without slots declares
// no per-interpreter GIL support, so it is refused in an owngil interpreter
// as well.
Verdict judge(PyObject *module) {
    if (!PyModule_Check(module)) return Verdict::allowed;  // Py_mod_create made something else
    PyModuleDef *def = PyModule_GetDef(module);
    if (!def) {
        PyErr_Clear();
        return Verdict::allowed;
    }
    return def->m_slots ? Verdict::allowed : Verdict::refused;
}

PyRef attr_of(const char *module, const char *name) {
    PyRef mod(PyImport_ImportModule(module));  // frozen, always in sys.modules
    return PyRef(mod ? PyObject_GetAttrString(mod.get(), name) : nullptr);
}

// Creates the module once in the main interpreter (its GIL held) and judges
// it; sys.modules of the main interpreter is left as it was. `*error` gets
// the text of a failure.
Verdict probe_in_main(const Target &t, std::string *error) {
    PyRef name(PyUnicode_FromStringAndSize(t.name.data(), static_cast<Py_ssize_t>(t.name.size())));
    PyRef origin(PyUnicode_DecodeFSDefaultAndSize(t.origin.data(),
                                                  static_cast<Py_ssize_t>(t.origin.size())));
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    PyRef old(name ? PyDict_GetItemWithError(modules, name.get()) : nullptr);
    Py_XINCREF(old.get());
    if (old) {
        // Already loaded here (a worker context imported it): judge that
        // module; a second create_dynamic would reset its dict.
        PyRef file(PyObject_GetAttrString(old.get(), "__file__"));
        int same = file && origin ? PyObject_RichCompareBool(file.get(), origin.get(), Py_EQ) : 0;
        PyErr_Clear();
        if (same == 1) return judge(old.get());
    }
    PyRef loader_cls(name && origin && !PyErr_Occurred()
                         ? attr_of("_frozen_importlib_external", "ExtensionFileLoader")
                         : PyRef());
    PyRef spec_cls(loader_cls ? attr_of("_frozen_importlib", "ModuleSpec") : PyRef());
    PyRef loader(spec_cls ? PyObject_CallFunctionObjArgs(loader_cls.get(), name.get(),
                                                         origin.get(), nullptr)
                          : nullptr);
    PyRef args(loader ? PyTuple_Pack(2, name.get(), loader.get()) : nullptr);
    PyRef kwargs(args ? Py_BuildValue("{sO}", "origin", origin.get()) : nullptr);
    PyRef spec(kwargs ? PyObject_Call(spec_cls.get(), args.get(), kwargs.get()) : nullptr);
    PyRef imp(spec ? PyImport_ImportModule("_imp") : nullptr);
    PyRef module(imp ? PyObject_CallMethod(imp.get(), "create_dynamic", "O", spec.get()) : nullptr);
    PyRef failure(module ? nullptr : take_raised_exception());
    // A single-phase module put itself into sys.modules: undo that (CPython
    // keeps it in its extension cache, and a later import here re-creates it
    // from there, as after `del sys.modules[name]`).
    if (name) {
        PyObject *now = PyDict_GetItemWithError(modules, name.get());
        if (now != old.get()) {
            if (old)
                PyDict_SetItem(modules, name.get(), old.get());
            else if (now)
                PyDict_DelItem(modules, name.get());
        }
        PyErr_Clear();
    }
    if (!module) {
        if (failure) PyErr_SetRaisedException(failure.release());
        *error = take_python_error_text();
        return Verdict::unknown;
    }
    return judge(module.get());
}

// The verdict from the registry or, the first time, from a probe in the
// main interpreter.
Verdict verdict_of(const Target &t, std::string *error) {
    Verdict v = registry().find(t.key());
    if (v != Verdict::unknown) return v;
    bool ran = run_in_main_interpreter([&] {
        // Another context may have probed it while this one waited.
        v = registry().find(t.key());
        if (v != Verdict::unknown) return;
        v = probe_in_main(t, error);
        if (v != Verdict::unknown) registry().record(t.key(), v);
    });
    if (!ran) *error = "no memory for a thread state";
    return v;
}

#else

// CPython 3.13 readies _datetime's static types in whichever interpreter
// imports it first, and if that is a subinterpreter that ends before the
// main interpreter finalizes, finalization frees the types' tuples with the
// wrong allocator ("munmap_chunk(): invalid pointer"; plain CPython 3.13.0
// does the same). So the main interpreter imports it first. _datetime is
// the only module of the 3.13 standard library that uses these static types
// (_PyStaticType_InitForExtension).
constexpr const char *kMainFirst[] = {"_datetime"};

bool needs_main_first(const std::string &name) {
    for (const char *m : kMainFirst)
        if (name == m) return true;
    return false;
}

// Names imported in the main interpreter already (by this code).
std::mutex g_main_first_mu;
std::unordered_map<std::string, bool> g_main_first_done;

#endif  // < 3.13

}  // namespace

#if PY_VERSION_HEX >= 0x030D0000

int admit_extension_in_subinterpreter(PyObject *spec) {
    Target t;
    if (!target_of(spec, &t) || !needs_main_first(t.name)) return 1;
    {
        std::lock_guard<std::mutex> g(g_main_first_mu);
        if (g_main_first_done.count(t.name)) return 1;
    }
    std::string error;
    bool ran = run_in_main_interpreter([&] {
        PyRef module(PyImport_ImportModule(t.name.c_str()));
        if (!module) {
            error = take_python_error_text();
            return;
        }
        std::lock_guard<std::mutex> g(g_main_first_mu);
        g_main_first_done[t.name] = true;
    });
    if (!ran) error = "no memory for a thread state";
    if (error.empty()) return 1;
    PyErr_Format(PyExc_ImportError,
                 "module '%s' could not be loaded: importing it in the main interpreter first "
                 "(which CPython 3.13 needs) failed: %s",
                 t.name.c_str(), error.c_str());
    return -1;
}

#else

int admit_extension_in_subinterpreter(PyObject *spec) {
    Target t;
    if (!target_of(spec, &t)) return 1;
    std::string error;
    switch (verdict_of(t, &error)) {
    case Verdict::allowed:
        return 1;
    case Verdict::refused:
        set_refusal(spec, t.name,
                    "it uses single-phase initialization, which subinterpreters with their own "
                    "GIL do not support");
        return 0;
    case Verdict::unknown:
        break;
    }
    PyErr_Format(PyExc_ImportError,
                 "module '%s' could not be loaded: loading it in the main interpreter (to learn "
                 "whether it supports subinterpreters) failed: %s",
                 t.name.c_str(), error.c_str());
    return -1;
}

#endif  // < 3.13

void explain_subinterpreter_refusal(PyObject *spec) {
    if (!PyErr_ExceptionMatches(PyExc_ImportError)) return;
    PyRef original(take_raised_exception());
    PyRef text(PyObject_Str(original.get()));
    const char *utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
    Target t;
    if (!utf8 || std::string(utf8).find("subinterpreters") == std::string::npos ||
        !target_of(spec, &t)) {
        PyErr_Clear();
        PyErr_SetRaisedException(original.release());
        return;
    }
    set_refusal(spec, t.name,
                "it does not support subinterpreters with their own GIL (CPython: " +
                    std::string(utf8) + ")");
    raise_in_place_of(original.release());
}

void exec_failure_as_import_error(PyObject *module) {
    if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_ImportError) ||
        PyErr_ExceptionMatches(PyExc_MemoryError))
        return;
    PyRef original(take_raised_exception());
    const char *name = PyModule_Check(module) ? PyModule_GetName(module) : nullptr;
    PyErr_Clear();
    PyRef msg(PyUnicode_FromFormat(
        "extension module '%s' failed to initialize in an owngil context: %S. %s",
        name ? name : "?", original.get(), kWhere));
    PyRef pyname(name ? PyUnicode_FromString(name) : nullptr);
    PyErr_Clear();
    if (msg) PyErr_SetImportError(msg.get(), pyname.get(), nullptr);
    raise_in_place_of(original.release());
}

#else

int admit_extension_in_subinterpreter(PyObject *) { return 1; }
void explain_subinterpreter_refusal(PyObject *) {}
void exec_failure_as_import_error(PyObject *) {}

#endif

}  // namespace pyctx::core
