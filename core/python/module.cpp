#include "core/python/module.h"

#include "core/cbor/reader.h"
#include "core/cbor/tags.h"
#include "core/python/buffer_py.h"
#include "core/python/errors.h"
#include "core/python/host_calls.h"
#include "core/python/channel_py.h"
#include "core/python/log_py.h"
#include "core/python/send_py.h"
#include "core/python/store_py.h"

#include <atomic>
#include <string>

namespace {

/* ---- module state ------------------------------------------------------ */

struct ModuleState {
    PyObject *symbol_type;
    PyObject *host_term_type;
    PyObject *host_error;
    PyObject *send_error;  // pyctx.SendError (core/python/send_py.cpp)
    PyObject *channel_type;    // pyctx.Channel (core/python/channel_py.cpp)
    PyObject *channel_closed;  // pyctx.ChannelClosed
    PyObject *lent_buffer_type;  // pyctx.LentBuffer (core/python/buffer_py.cpp)
    // Runtime set-up steps applied in this interpreter (core/python/setup_py.cpp);
    // zeroed with the rest of the state.
    std::atomic<uint64_t> setup_applied;
};

// The object references the state holds, for GC traversal and clearing.
constexpr PyObject *ModuleState::*kStateObjects[] = {
    &ModuleState::symbol_type,  &ModuleState::host_term_type, &ModuleState::host_error,
    &ModuleState::send_error,   &ModuleState::channel_type,   &ModuleState::channel_closed,
    &ModuleState::lent_buffer_type,
};

ModuleState *state_of(PyObject *module) {
    return static_cast<ModuleState *>(PyModule_GetState(module));
}

// module.<name> = obj (a new reference is taken), under a key that is not
// interned. PyModule_AddObject and friends intern the name, CPython 3.12+
// makes interned strings immortal, and an interpreter with its own
// allocator never frees its immortal strings when it ends: every name the
// module adds this way that nothing else interned (Symbol, HostTerm,
// HostError, TAG_*, MAX_DEPTH, async_call) stayed behind after each owngil
// context. Lookups of the attribute compare strings, so they find a plain
// key as well.
int add_ref(PyObject *module, const char *name, PyObject *obj) {
    PyObject *dict = PyModule_GetDict(module);  // borrowed
    PyObject *key = PyUnicode_FromString(name);
    if (!key) return -1;
    int rc = PyDict_SetItem(dict, key, obj);
    Py_DECREF(key);
    return rc;
}

int add_int(PyObject *module, const char *name, long value) {
    PyObject *obj = PyLong_FromLong(value);
    if (!obj) return -1;
    int rc = add_ref(module, name, obj);
    Py_DECREF(obj);
    return rc;
}

#if PY_VERSION_HEX >= 0x030A0000
constexpr unsigned long kImmutable = Py_TPFLAGS_IMMUTABLETYPE;
#else
constexpr unsigned long kImmutable = 0;
#endif

/* ---- Symbol: a str subclass for identifiers (Erlang atoms) -------------- */

PyObject *symbol_repr(PyObject *self) {
    // Repr of the plain string value, not of self (which would recurse).
    PyObject *plain = PyUnicode_FromObject(self);
    if (!plain) return nullptr;
    PyObject *r = PyUnicode_FromFormat("Symbol(%R)", plain);
    Py_DECREF(plain);
    return r;
}

PyObject *symbol_reduce(PyObject *self, PyObject *) {
    PyObject *plain = PyUnicode_FromObject(self);
    if (!plain) return nullptr;
    PyObject *r = Py_BuildValue("(O(N))", reinterpret_cast<PyObject *>(Py_TYPE(self)), plain);
    return r;
}

PyMethodDef symbol_methods[] = {
    {"__reduce__", symbol_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot symbol_slots[] = {
    {Py_tp_repr, reinterpret_cast<void *>(symbol_repr)},
    {Py_tp_methods, symbol_methods},
    {Py_tp_doc, const_cast<char *>(
                    "Symbol(text)\n--\n\n"
                    "An identifier (an Erlang atom, a Ruby symbol): a str that crosses the\n"
                    "host boundary as CBOR tag 39 instead of a plain text string.")},
    {0, nullptr},
};

// Final (no Py_TPFLAGS_BASETYPE): the encoder recognizes it by exact type.
// basicsize 0 inherits str's layout; instances have no __dict__.
PyType_Spec symbol_spec = {
    "pyctx.Symbol", 0, 0, static_cast<unsigned int>(Py_TPFLAGS_DEFAULT | kImmutable),
    symbol_slots};

/* ---- HostTerm: opaque host data, returned to the host unchanged ---------- */

struct HostTermObject {
    PyObject_HEAD
    PyObject *data;  // always an exact bytes object
};

HostTermObject *as_host_term(PyObject *o) { return reinterpret_cast<HostTermObject *>(o); }

PyObject *host_term_alloc(PyTypeObject *type, PyObject *bytes) {
    PyObject *self = type->tp_alloc(type, 0);
    if (!self) return nullptr;
    Py_INCREF(bytes);
    as_host_term(self)->data = bytes;
    return self;
}

PyObject *host_term_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static const char *kwlist[] = {"data", nullptr};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:HostTerm", const_cast<char **>(kwlist),
                                     &arg))
        return nullptr;
    if (PyBytes_CheckExact(arg)) return host_term_alloc(type, arg);
    if (!PyObject_CheckBuffer(arg)) {
        PyErr_Format(PyExc_TypeError, "HostTerm() argument must be a bytes-like object, not '%s'",
                     Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    PyObject *bytes = PyBytes_FromObject(arg);
    if (!bytes) return nullptr;
    PyObject *self = host_term_alloc(type, bytes);
    Py_DECREF(bytes);
    return self;
}

void host_term_dealloc(PyObject *self) {
    // Instances of heap types own a reference to their type.
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(as_host_term(self)->data);
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyObject *host_term_repr(PyObject *self) {
    return PyUnicode_FromFormat("HostTerm(%R)", as_host_term(self)->data);
}

Py_hash_t host_term_hash(PyObject *self) { return PyObject_Hash(as_host_term(self)->data); }

PyObject *host_term_richcompare(PyObject *self, PyObject *other, int op) {
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(other) != Py_TYPE(self))
        Py_RETURN_NOTIMPLEMENTED;
    return PyObject_RichCompare(as_host_term(self)->data, as_host_term(other)->data, op);
}

PyObject *host_term_get_data(PyObject *self, void *) {
    PyObject *d = as_host_term(self)->data;
    Py_INCREF(d);
    return d;
}

PyObject *host_term_reduce(PyObject *self, PyObject *) {
    return Py_BuildValue("(O(O))", reinterpret_cast<PyObject *>(Py_TYPE(self)),
                         as_host_term(self)->data);
}

PyGetSetDef host_term_getset[] = {
    {"data", host_term_get_data, nullptr, "The opaque host data (bytes).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef host_term_methods[] = {
    {"__reduce__", host_term_reduce, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot host_term_slots[] = {
    {Py_tp_new, reinterpret_cast<void *>(host_term_tp_new)},
    {Py_tp_dealloc, reinterpret_cast<void *>(host_term_dealloc)},
    {Py_tp_repr, reinterpret_cast<void *>(host_term_repr)},
    {Py_tp_hash, reinterpret_cast<void *>(host_term_hash)},
    {Py_tp_richcompare, reinterpret_cast<void *>(host_term_richcompare)},
    {Py_tp_getset, host_term_getset},
    {Py_tp_methods, host_term_methods},
    {Py_tp_doc, const_cast<char *>(
                    "HostTerm(data)\n--\n\n"
                    "An opaque value of the host (e.g. an Erlang pid or reference), kept as\n"
                    "bytes and returned to the host unchanged. Immutable; equal and hashed\n"
                    "by its data.")},
    {0, nullptr},
};

// Not GC-tracked: it only references a bytes object, which cannot form a
// cycle. Final, like Symbol.
PyType_Spec host_term_spec = {
    "pyctx.HostTerm", static_cast<int>(sizeof(HostTermObject)), 0,
    static_cast<unsigned int>(Py_TPFLAGS_DEFAULT | kImmutable), host_term_slots};

/* ---- module functions ---------------------------------------------------- */

// =========================================================================
// Module-level functions of `pyctx`.
// The runtime adds its host-call functions here, e.g.
//   {"call", reinterpret_cast<PyCFunction>(host_call), METH_FASTCALL, doc},
//   {"async_call", reinterpret_cast<PyCFunction>(host_async_call), METH_FASTCALL, doc},
// declared in the header of the file that implements them. Everything added
// must be safe without the GIL on free-threaded builds (see Py_mod_gil below)
// and must keep per-interpreter state in module or context state, never in
// C globals (see Py_mod_multiple_interpreters).
// =========================================================================
// module.__getattr__ (PEP 562): the attributes made on first use.
PyObject *module_getattr(PyObject *module, PyObject *name) {
    ModuleState *st = state_of(module);
    if (st && PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "Channel") == 0) {
        if (!st->channel_type) {
            st->channel_type = PyType_FromModuleAndSpec(module, &pyctx::core::channel_spec, nullptr);
            if (!st->channel_type) return nullptr;
            // Later lookups find it in the module's dict.
            if (add_ref(module, "Channel", st->channel_type) < 0) return nullptr;
        }
        Py_INCREF(st->channel_type);
        return st->channel_type;
    }
    PyErr_Format(PyExc_AttributeError, "module 'pyctx' has no attribute %R", name);
    return nullptr;
}

#define PYCTX_FASTCALL(fn) \
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pyctx::core::fn))
PyMethodDef module_methods[] = {
    {"__getattr__", module_getattr, METH_O, nullptr},
    {"call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pyctx::core::host_py_call)),
     METH_FASTCALL,
     "call(name, *args)\n--\n\n"
     "Calls the host function `name` and returns its answer. Blocks this\n"
     "Python thread (the GIL is released) while the context keeps serving\n"
     "its queue. Raises LookupError for an unknown name and HostError when\n"
     "the host answers with an error."},
    {"async_call",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pyctx::core::host_py_async_call)),
     METH_FASTCALL,
     "async_call(name, *args)\n--\n\n"
     "Like call(), but returns an awaitable future on the context's event\n"
     "loop, so a coroutine can wait for the host without blocking the loop."},
    {"send",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pyctx::core::send_py)),
     METH_FASTCALL | METH_KEYWORDS,
     "send(target, value, missing_ok=False)\n--\n\n"
     "Delivers `value` to a host endpoint without waiting for it to be handled.\n"
     "`target` is the name (str) of an endpoint the host registered, or any\n"
     "other value the host's router understands (an Erlang pid as a HostTerm,\n"
     "a registered name as a Symbol). Messages of one sender keep their order.\n"
     "Returns True; an unknown or dead target raises SendError, or returns\n"
     "False when missing_ok is true."},
    {"_log", PYCTX_FASTCALL(log_py), METH_FASTCALL,
     "_log(level, logger, message, exception, created)\n--\n\n"
     "Hands one logging record to the host's log handler without waiting;\n"
     "False when it was dropped (no handler, below its level, queue full).\n"
     "Called by the handler pyctx installs in `logging`."},
    // The shared store (core/host/store.h): no per-interpreter state at all.
    {"store_get", PYCTX_FASTCALL(store_py_get), METH_FASTCALL,
     "store_get(key, default=None)\n--\n\n"
     "The value stored under `key` in the process-wide store, or `default`."},
    {"store_entry", PYCTX_FASTCALL(store_py_entry), METH_FASTCALL,
     "store_entry(key)\n--\n\n"
     "(value, version) of `key`, or None when absent. Versions are unique\n"
     "process-wide and never reused."},
    {"store_put", PYCTX_FASTCALL(store_py_put), METH_FASTCALL,
     "store_put(key, value)\n--\n\nStores `value` (any CBOR-able value); returns its version."},
    {"store_cas", PYCTX_FASTCALL(store_py_cas), METH_FASTCALL,
     "store_cas(key, expected_version, value)\n--\n\n"
     "Stores `value` only if the entry's version is `expected_version` (0: only\n"
     "if absent). Returns the new version, or None when the entry changed."},
    {"store_delete", PYCTX_FASTCALL(store_py_delete), METH_FASTCALL,
     "store_delete(key, version=0)\n--\n\n"
     "Removes `key` (only at `version` when given); True when removed."},
    {"store_keys", PYCTX_FASTCALL(store_py_keys), METH_FASTCALL,
     "store_keys(prefix='')\n--\n\nThe stored keys starting with `prefix`, sorted."},
    {nullptr, nullptr, 0, nullptr},
};

/* ---- module definition --------------------------------------------------- */

int module_exec(PyObject *module) {
    ModuleState *st = state_of(module);
    // A tuple of bases: 3.9 accepts nothing else.
    PyObject *bases = PyTuple_Pack(1, reinterpret_cast<PyObject *>(&PyUnicode_Type));
    if (!bases) return -1;
    st->symbol_type = PyType_FromModuleAndSpec(module, &symbol_spec, bases);
    Py_DECREF(bases);
    if (!st->symbol_type || add_ref(module, "Symbol", st->symbol_type) < 0) return -1;

    st->host_term_type = PyType_FromModuleAndSpec(module, &host_term_spec, nullptr);
    if (!st->host_term_type || add_ref(module, "HostTerm", st->host_term_type) < 0) return -1;

    st->host_error = PyErr_NewExceptionWithDoc(
        "pyctx.HostError", "Raised in Python when a host function called through pyctx fails.",
        PyExc_Exception, nullptr);
    if (!st->host_error || add_ref(module, "HostError", st->host_error) < 0) return -1;

    st->send_error = PyErr_NewExceptionWithDoc(
        "pyctx.SendError",
        "Raised by pyctx.send() when the target is unknown or no longer alive.",
        PyExc_LookupError, nullptr);
    if (!st->send_error || add_ref(module, "SendError", st->send_error) < 0) return -1;

    st->channel_closed = PyErr_NewExceptionWithDoc(
        "pyctx.ChannelClosed", "Raised at the end of a channel: it is closed (and drained).",
        PyExc_EOFError, nullptr);
    if (!st->channel_closed || add_ref(module, "ChannelClosed", st->channel_closed) < 0) return -1;
    // pyctx.Channel is made on first use (module_getattr): making a type
    // interns its method names, which on 3.12 stay behind, immortal, after
    // every own-GIL interpreter that made it. LentBuffer has no methods,
    // and decoding a buffer tag needs it at hand (load_py_types).
    st->lent_buffer_type = PyType_FromModuleAndSpec(module, &pyctx::core::lent_buffer_spec, nullptr);
    if (!st->lent_buffer_type || add_ref(module, "LentBuffer", st->lent_buffer_type) < 0) return -1;

    using namespace pyctx::core::cbor;
    if (add_int(module, "TAG_SYMBOL", static_cast<long>(kTagSymbol)) < 0 ||
        add_int(module, "TAG_SET", static_cast<long>(kTagSet)) < 0 ||
        add_int(module, "TAG_TUPLE", static_cast<long>(kTagTuple)) < 0 ||
        add_int(module, "TAG_HOST_TERM", static_cast<long>(kTagHostTerm)) < 0 ||
        add_int(module, "TAG_BUFFER", static_cast<long>(kTagBuffer)) < 0 ||
        add_int(module, "MAX_DEPTH", kMaxDepth) < 0)
        return -1;

    // The functions, added here rather than through m_methods (which would
    // intern their names too).
    PyObject *module_name = PyModule_GetNameObject(module);
    if (!module_name) return -1;
    for (PyMethodDef *def = module_methods; def->ml_name; ++def) {
        PyObject *fn = PyCFunction_NewEx(def, module, module_name);
        if (!fn || add_ref(module, def->ml_name, fn) < 0) {
            Py_XDECREF(fn);
            Py_DECREF(module_name);
            return -1;
        }
        Py_DECREF(fn);
    }
    Py_DECREF(module_name);
    return 0;
}

int module_traverse(PyObject *module, visitproc visit, void *arg) {
    ModuleState *st = state_of(module);
    if (!st) return 0;
    for (PyObject *ModuleState::*field : kStateObjects) Py_VISIT(st->*field);
    return 0;
}

int module_clear(PyObject *module) {
    ModuleState *st = state_of(module);
    if (!st) return 0;
    for (PyObject *ModuleState::*field : kStateObjects) Py_CLEAR(st->*field);
    return 0;
}

void module_free(void *module) { module_clear(static_cast<PyObject *>(module)); }

PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void *>(module_exec)},
#if PY_VERSION_HEX >= 0x030C0000
    // No C globals: every interpreter gets its own module state and types.
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    // Symbol and HostTerm are immutable and the module state is written only
    // by exec; functions added to module_methods must keep this true.
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "pyctx",
    "The Python side of pyctx: values shared with the host program.",
    static_cast<Py_ssize_t>(sizeof(ModuleState)),
    nullptr,  // functions: added by module_exec
    module_slots,
    module_traverse,
    module_clear,
    module_free,
};

}  // namespace

extern "C" PyObject *pyctx_py_module_init(void) { return PyModuleDef_Init(&module_def); }

namespace pyctx::core {


bool load_py_types(PyTypes *out, Error *err) {
    PyObject *module = PyImport_ImportModule("pyctx");
    if (!module) {
        if (err)
            *err = Error(Status::internal, "cannot import the pyctx module: " + take_python_error_text());
        return false;
    }
    if (!PyModule_Check(module) || PyModule_GetDef(module) != &module_def || !state_of(module) ||
        !state_of(module)->symbol_type) {
        static const char msg[] =
            "the imported pyctx module is not pyctx's built-in module (was "
            "pyctx_py_module_init registered with PyImport_AppendInittab?)";
        PyErr_Clear();
        Py_DECREF(module);
        if (err)
            *err = Error(Status::internal, msg);
        else
            PyErr_SetString(PyExc_ImportError, msg);
        return false;
    }
    ModuleState *st = state_of(module);
    Py_INCREF(st->symbol_type);
    Py_INCREF(st->host_term_type);
    Py_INCREF(st->host_error);
    Py_INCREF(st->lent_buffer_type);
    out->lent_buffer_type = st->lent_buffer_type;
    out->symbol_type = st->symbol_type;
    out->host_term_type = st->host_term_type;
    out->host_error_type = st->host_error;
    Py_DECREF(module);
    return true;
}

void release_py_types(PyTypes *types) {
    Py_CLEAR(types->symbol_type);
    Py_CLEAR(types->host_term_type);
    Py_CLEAR(types->host_error_type);
    Py_CLEAR(types->lent_buffer_type);
}

PyObject *host_term_new(PyObject *type, PyObject *data) {
    return host_term_alloc(reinterpret_cast<PyTypeObject *>(type), data);
}

PyObject *host_term_data(PyObject *obj) { return as_host_term(obj)->data; }

std::atomic<uint64_t> *module_setup_applied(PyObject *module) {
    if (!PyModule_Check(module) || PyModule_GetDef(module) != &module_def) return nullptr;
    ModuleState *st = state_of(module);
    return st ? &st->setup_applied : nullptr;
}

PyObject *module_channel_closed(PyObject *module) {
    ModuleState *st = module ? state_of(module) : nullptr;
    return st && st->channel_closed ? st->channel_closed : PyExc_EOFError;
}

PyObject *module_send_error(PyObject *module) {
    ModuleState *st = module ? state_of(module) : nullptr;
    return st && st->send_error ? st->send_error : PyExc_LookupError;
}

}  // namespace pyctx::core
