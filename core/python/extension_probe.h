// Keeps an owngil interpreter from running the init function of an
// extension module that cannot be loaded there.
//
// CPython learns that an extension uses single-phase init (module state in
// C globals, unusable from a subinterpreter with its own GIL) only from what
// its PyInit_ function returns. Python 3.12 calls PyInit_ in the
// subinterpreter and refuses the module only afterwards: the init has then
// run with the subinterpreter's allocator (static types readied, objects
// cached in C globals), and a later import in the main interpreter, or
// finalization, frees that memory with the wrong allocator. 3.13 switches to
// the main interpreter around PyInit_ itself. Neither calls PyInit_ when
// the module is already in the process's cache of single-phase extensions:
// the subinterpreter is refused before init.
//
// So before a subinterpreter creates an extension module from a file the
// process has not seen, the module is created once in the main interpreter
// (`_imp.create_dynamic`, under the import lock, on a thread state of the
// main interpreter): a single-phase module lands in CPython's cache (and
// leaves the main interpreter's sys.modules as it was), a multi-phase one is
// created there and dropped (its exec does not run). The verdict is kept in
// a process-wide registry keyed by (name, file), so each file is probed at
// most once per process; a module the main interpreter has already loaded
// is judged from the loaded module without probing.
#pragma once

#include <Python.h>

namespace pyctx::core {

// In a subinterpreter (GIL held), before ExtensionFileLoader.create_module
// runs for `spec`. Returns 1 when the module may be created here; 0 when it
// may not (an ImportError naming the module and where it can run is set);
// -1 with another exception set.
int admit_extension_in_subinterpreter(PyObject *spec);

// Rewrites the ImportError CPython raised for `spec` in a subinterpreter
// ("does not support loading in subinterpreters") into pyctx's message,
// chained to the original. Leaves any other exception as it is.
void explain_subinterpreter_refusal(PyObject *spec);

// Turns an exception other than ImportError (or MemoryError, or a
// BaseException that is not an Exception) raised by an extension's exec in a
// subinterpreter into an ImportError chained to it, so that pure-Python
// fallbacks, which catch ImportError, take over. (On 3.12, _zoneinfo's exec
// fails with AttributeError in a subinterpreter, where _datetime cannot load
// and datetime has no C API capsule; zoneinfo then falls back to its pure
// Python implementation.)
void exec_failure_as_import_error(PyObject *module);

}  // namespace pyctx::core
