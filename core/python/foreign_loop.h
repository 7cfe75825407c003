// `await pyctx.async_call(...)` on an asyncio loop that is not the
// context's own: a user's asyncio.run() inside a request, or a loop on a
// Python thread that user code started. The context's loop is resumed
// through the context's queue, which such a loop never serves; here the
// answer instead wakes the running loop through an eventfd registered as
// one of its readers, and the future is resolved on that loop's thread.
#pragma once

#include "core/python/ref.h"

#include "core/host/host_call.h"

#include <functional>

namespace pyctx::core {

class ContextThread;

// Takes the Python side's reference to `call` (built by the caller, not yet
// invoked), creates a future on `loop` (the running loop of this thread),
// invokes the host function (through `thread` when on a context thread,
// else directly) and returns the future. nullptr with a Python exception
// set on failure (the call is then released and never invoked).
// `start`, when given, is called instead of invoking a host function (a
// channel registers the call as its wake-up token there).
PyObject *await_host_call_on(PyObject *loop, HostCall *call, ContextThread *thread,
                             const std::function<void(HostCall *)> &start = {});

}  // namespace pyctx::core
