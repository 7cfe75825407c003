// The calling thread's Python thread state without the checks of
// PyThreadState_Get() (which aborts when there is none): hooks that run on
// any thread, with or without one, use this.
#pragma once

#include <Python.h>

namespace pyctx::core {

inline PyThreadState *current_tstate_or_null() {
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

}  // namespace pyctx::core
