// Threads started by sandboxed worker code inherit the starter's policy: the
// thread-start functions of `_thread` (and the copies `threading` took of
// them at import) are wrapped in the main interpreter. The wrapper passes
// through untouched for threads without a policy; for a sandboxed starter it
// replaces the thread's function with an Inherit object that installs the
// policy on the new thread before calling the original function.
#include "core/python/ref.h"
#include "core/python/sandbox_active.h"

namespace pyctx::core {

namespace {

struct Inherit {
    PyObject_HEAD
    PyObject *function;
    std::shared_ptr<const ActiveSandbox> *owner;
};

PyObject *g_inherit_type = nullptr;  // main interpreter only, kept for good

PyObject *inherit_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    auto *in = reinterpret_cast<Inherit *>(self);
    // The new thread keeps the policy for the rest of its life.
    set_thread_sandbox(*in->owner);
    return PyObject_Call(in->function, args, kwargs);
}

void inherit_dealloc(PyObject *self) {
    auto *in = reinterpret_cast<Inherit *>(self);
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(in->function);
    delete in->owner;
    type->tp_free(self);
    Py_DECREF(type);
}

PyType_Slot inherit_slots[] = {
    {Py_tp_call, reinterpret_cast<void *>(inherit_call)},
    {Py_tp_dealloc, reinterpret_cast<void *>(inherit_dealloc)},
    {Py_tp_doc, const_cast<char *>("A thread function that carries its starter's sandbox.")},
    {0, nullptr},
};

PyType_Spec inherit_spec = {"pyctx._SandboxedThreadStart", sizeof(Inherit), 0, Py_TPFLAGS_DEFAULT,
                            inherit_slots};

PyObject *inherit_new(PyObject *function, const std::shared_ptr<const ActiveSandbox> &owner) {
    auto *type = reinterpret_cast<PyTypeObject *>(g_inherit_type);
    auto *in = reinterpret_cast<Inherit *>(type->tp_alloc(type, 0));
    if (!in) return nullptr;
    try {
        in->owner = new std::shared_ptr<const ActiveSandbox>(owner);
    } catch (const std::bad_alloc &) {
        Py_DECREF(in);
        return PyErr_NoMemory();
    }
    in->function = new_ref(function);
    return reinterpret_cast<PyObject *>(in);
}

// `self` is the wrapped original start function.
PyObject *start_wrapper(PyObject *original, PyObject *args, PyObject *kwargs) {
    const auto &owner = thread_sandbox();
    if (!owner || PyTuple_GET_SIZE(args) < 1) return PyObject_Call(original, args, kwargs);
    PyRef wrapped(inherit_new(PyTuple_GET_ITEM(args, 0), owner));
    if (!wrapped) return nullptr;
    PyRef new_args(PyTuple_GetSlice(args, 0, PyTuple_GET_SIZE(args)));
    if (!new_args) return nullptr;
    PyObject *old = PyTuple_GET_ITEM(new_args.get(), 0);
    PyTuple_SET_ITEM(new_args.get(), 0, wrapped.release());
    Py_DECREF(old);
    return PyObject_Call(original, new_args.get(), kwargs);
}

// METH_KEYWORDS functions are stored as PyCFunction (through void*, which
// silences the cast-function-type warning: CPython calls them right).
PyCFunction as_cfunction(PyObject *(*fn)(PyObject *, PyObject *, PyObject *)) {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void *>(fn));
}

PyMethodDef start_wrapper_def = {"start_thread", as_cfunction(start_wrapper),
                                 METH_VARARGS | METH_KEYWORDS,
                                 "Starts a thread; a sandboxed starter's policy is inherited."};

bool is_wrapper(PyObject *o) {
    return PyCFunction_Check(o) &&
           PyCFunction_GET_FUNCTION(o) == as_cfunction(start_wrapper);
}

// Replaces module.name (if present and not wrapped yet) with a wrapper.
bool wrap_attr(PyObject *module, const char *name) {
    PyRef original(PyObject_GetAttrString(module, name));
    if (!original) {
        PyErr_Clear();  // not in this Python version
        return true;
    }
    if (is_wrapper(original.get())) return true;
    PyRef wrapper(PyCFunction_New(&start_wrapper_def, original.get()));
    return wrapper && PyObject_SetAttrString(module, name, wrapper.get()) == 0;
}

}  // namespace

bool install_thread_inheritance() {
    if (!g_inherit_type) {
        g_inherit_type = PyType_FromSpec(&inherit_spec);
        if (!g_inherit_type) return false;
    }
    PyRef thread_mod(PyImport_ImportModule("_thread"));
    if (!thread_mod) return false;
    for (const char *name : {"start_new_thread", "start_new", "start_joinable_thread"})
        if (!wrap_attr(thread_mod.get(), name)) return false;
    // `threading` copies the functions at import: a later import picks up
    // the wrappers, an earlier one is patched here.
    PyObject *modules = PySys_GetObject("modules");  // borrowed
    PyObject *threading = modules ? PyDict_GetItemString(modules, "threading") : nullptr;
    if (!threading) return true;
    for (const char *name : {"_start_new_thread", "_start_joinable_thread"})
        if (!wrap_attr(threading, name)) return false;
    return true;
}

bool is_inheriting_start(PyObject *function) {
    return g_inherit_type && Py_TYPE(function) == reinterpret_cast<PyTypeObject *>(g_inherit_type);
}

}  // namespace pyctx::core
