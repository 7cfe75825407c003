// Internal to the sandbox (sandbox*.cpp): a policy in force and the
// per-thread record of which one applies.
#pragma once

#include <Python.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/python/sandbox_policy.h"

namespace pyctx::core {

// How many policies are in force anywhere (each ActiveSandbox counts while
// it lives, also through threads that inherited it): the hook's first test.
extern std::atomic<size_t> g_live_sandboxes;

struct LiveSandboxCount {
    LiveSandboxCount() { g_live_sandboxes.fetch_add(1, std::memory_order_relaxed); }
    ~LiveSandboxCount() { g_live_sandboxes.fetch_sub(1, std::memory_order_relaxed); }
    LiveSandboxCount(const LiveSandboxCount &) = delete;
    LiveSandboxCount &operator=(const LiveSandboxCount &) = delete;
};

struct ActiveSandbox {
    LiveSandboxCount live;
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
