// Puts the process-wide extension import lock (import_lock.h) around
// extension module creation and execution in the current interpreter, and
// keeps extensions that cannot live in a subinterpreter from being
// initialized in one (extension_probe.h).
//
// How: importlib's loader classes are per-interpreter objects, so each
// interpreter gets its own wrappers. ExtensionFileLoader.create_module and
// exec_module (extension files) and BuiltinImporter.create_module and
// exec_module (extensions linked into Python) are replaced by functions that
// take the lock (waiting with the GIL released) and call the originals. The
// loaders' other behaviour, module.__loader__ and module.__spec__ are
// unchanged. CPython internals relied on: the names of those four methods
// and of the _frozen_importlib / _frozen_importlib_external modules, the same
// in 3.12, 3.13 and 3.14.
//
// Python 3.12+ only (before that, interpreters never run in parallel); a
// no-op on older versions.
#pragma once

#include <Python.h>

#include "core/base/error.h"

namespace pyctx::core {

// With the GIL held. Idempotent per interpreter (worker contexts share the
// main interpreter: the first one installs). On failure *err names the
// Python error.
bool install_import_guard(Error *err);

#if PY_VERSION_HEX >= 0x030C0000
// Takes the import lock for the current interpreter (GIL held on entry and
// return; released while waiting). Pair with ImportLock::get().unlock().
void take_import_lock();
#endif

}  // namespace pyctx::core
