// The Python side of host functions: the pyctx module's `call` and
// `async_call`, and resolving the futures of awaited calls.
#pragma once

#include "core/python/ref.h"

#include <string_view>

#include "core/host/host_call.h"
#include "core/python/convert.h"

namespace pyctx::core {

class PyState;
class ContextThread;

// pyctx.call(name, *args) and pyctx.async_call(name, *args) (vectorcall).
PyObject *host_py_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *host_py_async_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

// A process context's child: calls the host's builtin `name`
// (core/host/builtin_calls.h) with `args` as pyctx.call would, and returns
// its answer decoded (a new reference), or nullptr with the exception set.
PyObject *call_host_builtin(std::string_view name, PyObject *const *args, Py_ssize_t nargs);
// The same as pyctx.async_call would: an awaitable of the answer.
PyObject *call_host_builtin_async(std::string_view name, PyObject *const *args, Py_ssize_t nargs);

// Invokes a host function from a Python thread that is not a context's
// (GIL released while it runs).
void invoke_host_plain(HostCall *call);
// The answer of `call` as a new reference, or nullptr with HostError set.
PyObject *host_answer_to_python(HostCall *call, const PyTypes &types);

// Context thread: resolves the future of an awaited call whose answer
// arrived (consumes the reference the answer posted with the call).
void resume_awaited_host_call(PyState &py, HostCall *call);

// Makes `call` awaited on the context's own loop: a new future, recorded so
// that resume_awaited_host_call() settles it. Returns the future (a new
// reference) or nullptr with an exception set (`call` untouched). The
// caller then starts the call.
PyObject *await_on_context_loop(PyState &py, ContextThread *thread, HostCall *call);
// Context closing: cancels every awaited call's future.
void abandon_awaited_host_calls(PyState &py);

}  // namespace pyctx::core
