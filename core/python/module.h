// The Python module `pyctx`, importable in every interpreter the library
// runs (main and subinterpreters): Symbol, HostTerm and HostError, plus the
// host-call functions the runtime adds to its method table.
//
// The module uses multi-phase initialization with all its types as heap
// types in module state, so each interpreter gets its own copies (required
// for PEP 684 subinterpreters with their own GIL).
#pragma once

#include "core/python/convert.h"  // Python.h, PyTypes
#include "core/base/error.h"

#include <atomic>
#include <cstdint>

// The module's init function, to be registered before Py_Initialize():
//   PyImport_AppendInittab("pyctx", pyctx_py_module_init);
extern "C" PyObject *pyctx_py_module_init(void);

namespace pyctx::core {

// Imports `pyctx` in the current interpreter and stores strong references to
// its types in *out (whose previous contents are not released). With the GIL
// held. On failure returns false with *out untouched and either
// *err = Status::internal naming the Python error (no exception left set)
// or, when err is nullptr (callers inside a Python function), the Python
// exception set.
bool load_py_types(PyTypes *out, Error *err);

// Drops the references held by *types and nulls them. With the GIL held, in
// the interpreter the types belong to.
void release_py_types(PyTypes *types);

// A new HostTerm of `type` (PyTypes::host_term_type) wrapping the bytes
// object `data` (a new reference to it is taken). nullptr with a Python
// exception set on failure.
PyObject *host_term_new(PyObject *type, PyObject *data);

// The bytes object inside a HostTerm (borrowed). `obj` must be an instance of
// PyTypes::host_term_type (HostTerm cannot be subclassed).
PyObject *host_term_data(PyObject *obj);

// The count of runtime set-up steps applied in the interpreter of `module`
// (the pyctx module object), nullptr if it is not pyctx's module.
std::atomic<uint64_t> *module_setup_applied(PyObject *module);

// pyctx.ChannelClosed of the module `module`, borrowed.
PyObject *module_channel_closed(PyObject *module);

// pyctx.SendError of the module `module` (the `self` of its functions),
// borrowed.
PyObject *module_send_error(PyObject *module);

}  // namespace pyctx::core
