// The in-process sandbox: one PEP 578 audit hook, installed once for the
// whole process (C audit hooks are process-wide and cannot be removed),
// which looks up the policy of the thread that raised the event and refuses
// what the policy blocks with PermissionError.
//
// Whose policy applies: the context thread's own (set here, on entry); in an
// own-GIL context, every thread of its subinterpreter (looked up by
// interpreter); in a worker context, threads started by sandboxed code
// inherit the policy through wrappers around the thread-start functions of
// `_thread` and `threading` (the audit event of a thread start from a
// sandboxed worker thread is refused if it bypassed them, on Python 3.12+
// where that event exists).
//
// An audit hook is no security boundary: C code, ctypes and (in worker
// contexts, which share modules) monkeypatching shared modules bypass it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/python/sandbox_policy.h"

namespace pyctx::core {

// Applies `policy` to the calling context thread (and, with
// `own_interpreter`, to every thread of the current interpreter). With the
// GIL held, once the interpreter is set up: Python's own paths are read from
// sys.prefix and sys.path now.
bool sandbox_enter(const SandboxPolicy &policy, const std::string &context_name,
                   bool own_interpreter, Error *err);
// Python's own paths, canonical: sys.prefix, sys.exec_prefix, their base_
// forms and the sys.path entries (GIL held). A process context's child
// grants these to its kernel rules.
std::vector<std::string> sandbox_python_paths();

// Ends what sandbox_enter() applied, on the same thread, once the
// interpreter has ended (so no thread of it runs any more).
void sandbox_leave();

}  // namespace pyctx::core
