#include "core/python/import_guard.h"

#include <Python.h>

#include <string>

#include "core/python/errors.h"
#include "core/python/extension_probe.h"
#include "core/python/import_lock.h"
#include "core/python/ref.h"

namespace pyctx::core {

#if PY_VERSION_HEX >= 0x030C0000

void take_import_lock() {
    const void *interp = PyInterpreterState_Get();
    ImportLock &lock = ImportLock::get();
    if (lock.try_lock(interp)) return;
    Py_BEGIN_ALLOW_THREADS
    lock.lock(interp);
    Py_END_ALLOW_THREADS
}

namespace {

// `original` is the wrapped method (the PyCFunction's self).
PyObject *locked_call(PyObject *original, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames) {
    take_import_lock();
    PyObject *result = PyObject_Vectorcall(original, args, nargs, kwnames);
    ImportLock::get().unlock();
    return result;
}

// ExtensionFileLoader.create_module(self, spec): in a subinterpreter, first
// make sure the module may be initialized here at all.
PyObject *extension_create(PyObject *original, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    PyObject *spec = nargs == 2 && !kwnames ? args[1] : nullptr;
    const bool sub = spec && PyInterpreterState_Get() != PyInterpreterState_Main();
    if (sub && admit_extension_in_subinterpreter(spec) <= 0) return nullptr;
    PyObject *module = locked_call(original, args, nargs, kwnames);
    if (!module && sub) explain_subinterpreter_refusal(spec);
    return module;
}

// ExtensionFileLoader.exec_module(self, module).
PyObject *extension_exec(PyObject *original, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames) {
    PyObject *result = locked_call(original, args, nargs, kwnames);
    if (!result && nargs == 2 && PyInterpreterState_Get() != PyInterpreterState_Main())
        exec_failure_as_import_error(args[1]);
    return result;
}

PyMethodDef extension_exec_def = {
    "exec_module", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(extension_exec)),
    METH_FASTCALL | METH_KEYWORDS,
    "ExtensionFileLoader.exec_module under pyctx's process-wide extension import lock."};

PyMethodDef locked_def = {
    "_pyctx_locked", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(locked_call)),
    METH_FASTCALL | METH_KEYWORDS,
    "An importlib loader method run under pyctx's process-wide extension import lock."};

PyMethodDef extension_create_def = {
    "create_module",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(extension_create)),
    METH_FASTCALL | METH_KEYWORDS,
    "ExtensionFileLoader.create_module under pyctx's process-wide extension import lock."};

// cls.<name> = instancemethod or staticmethod of a function of `def` bound
// to the original (instance methods get the loader as their first argument;
// BuiltinImporter's static or class methods are called through the
// original as looked up on the class).
bool wrap(PyObject *cls, const char *name, PyMethodDef *def, bool instance_method) {
    PyRef original(PyObject_GetAttrString(cls, name));
    PyRef fn(original ? PyCFunction_NewEx(def, original.get(), nullptr) : nullptr);
    PyRef method(!fn                ? nullptr
                 : instance_method ? PyInstanceMethod_New(fn.get())
                                   : PyStaticMethod_New(fn.get()));
    return method && PyObject_SetAttrString(cls, name, method.get()) == 0;
}

// Whether cls.create_module is already the wrapper (the main interpreter is
// set up by every worker context). Not a marker attribute: its interned name
// would outlive every owngil interpreter (see module.cpp, add_ref).
bool already_wrapped(PyObject *cls) {
    PyObject *dict = reinterpret_cast<PyTypeObject *>(cls)->tp_dict;  // borrowed
    PyObject *m = dict ? PyDict_GetItemString(dict, "create_module") : nullptr;
    if (!m || !PyInstanceMethod_Check(m)) return false;
    PyObject *fn = PyInstanceMethod_GET_FUNCTION(m);
    return PyCFunction_Check(fn) &&
           PyCFunction_GET_FUNCTION(fn) ==
               reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(extension_create));
}

PyRef class_of(const char *module, const char *name) {
    PyRef mod(PyImport_ImportModule(module));  // frozen, always in sys.modules
    return PyRef(mod ? PyObject_GetAttrString(mod.get(), name) : nullptr);
}

}  // namespace

bool install_import_guard(Error *err) {
    PyRef files(class_of("_frozen_importlib_external", "ExtensionFileLoader"));
    PyRef builtins(files ? class_of("_frozen_importlib", "BuiltinImporter") : PyRef());
    bool ok = static_cast<bool>(builtins);
    if (ok && already_wrapped(files.get())) return true;
    ok = ok && wrap(files.get(), "create_module", &extension_create_def, true) &&
         wrap(files.get(), "exec_module", &extension_exec_def, true) &&
         wrap(builtins.get(), "create_module", &locked_def, false) &&
         wrap(builtins.get(), "exec_module", &locked_def, false);
    if (!ok)
        *err = Error(Status::internal,
                     "cannot guard extension imports: " + take_python_error_text());
    return ok;
}

#else

bool install_import_guard(Error *) { return true; }

#endif

}  // namespace pyctx::core
