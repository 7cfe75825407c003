// The sandbox of a process context, enforced by the kernel in its child:
// Landlock for files, seccomp for process creation and sockets, and
// no_new_privs. Unlike the audit hook of the in-process modes
// (core/python/sandbox.h), which the child installs too for its clear
// PermissionError messages, these rules hold against C code and ctypes.
//
// Applied once, while the child still has a single thread (before its
// preload), so every thread it ever runs is under them: Landlock restricts
// the calling thread and what it starts, and the seccomp filter is
// synchronized across threads all the same. No Python here.
#pragma once

#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/python/sandbox_policy.h"

namespace pyctx::core {

// `readable` are the directories (or files) the child may read besides the
// policy's own paths: Python's installation, sys.path, the search paths.
// Status::unsupported, naming what is missing, when the kernel lacks a
// feature the policy needs (Landlock for file rules, seccomp filters), or on
// an architecture whose system calls the filter does not know.
Error apply_kernel_sandbox(const SandboxPolicy &policy, const std::vector<std::string> &readable);

}  // namespace pyctx::core
