// Small asyncio helpers shared by the parts that hand results to awaiting
// Python code (host calls awaited on the context's loop or on a foreign
// loop, channel receives): finding the running loop, settling a future.
// GIL held for all of them.
#pragma once

#include <Python.h>

namespace pyctx::core {

// The running asyncio loop of this thread (a new reference), or nullptr
// (none running; no exception left set).
PyObject *running_loop_of_thread();

// True when `future` is not done yet (also false when asking failed: a
// future we cannot query is not one to settle).
bool future_pending(PyObject *future);

// Sets `value` as the future's result, or, when `value` is nullptr, the
// exception currently raised as its exception. Leaves no exception set.
void settle_future(PyObject *future, PyObject *value);

}  // namespace pyctx::core
