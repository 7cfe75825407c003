// Internal to the sandbox (sandbox*.cpp): a policy in force and the
// per-thread record of which one applies.
#pragma once

#include <Python.h>

#include <memory>
#include <string>
#include <vector>

#include "core/python/sandbox_policy.h"

namespace pyctx::core {

struct ActiveSandbox {
    SandboxPolicy policy;                   // rule paths canonical
    std::vector<std::string> python_paths;  // canonical, readable
    std::string context_name;
    std::string description;  // policy.describe(), for messages
    bool own_interpreter = false;
};

// The policy of the calling thread (its own, inherited, or its own-GIL
// interpreter's), or nullptr.
const ActiveSandbox *sandbox_of_current_thread();
// Makes `s` the calling thread's policy (nullptr: none) and keeps it alive
// for as long as the thread has it.
void set_thread_sandbox(std::shared_ptr<const ActiveSandbox> s);
const std::shared_ptr<const ActiveSandbox> &thread_sandbox();

// sandbox_threads.cpp: wraps the thread-start functions of `_thread` and
// `threading` in the current (main) interpreter so threads started by a
// sandboxed thread inherit its policy. Idempotent; GIL held.
bool install_thread_inheritance();
// True when `function` (what a thread is started with) came through those
// wrappers from a sandboxed thread.
bool is_inheriting_start(PyObject *function);

}  // namespace pyctx::core
