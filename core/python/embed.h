// Initializing this process's Python for pyctx, once: the host process's
// (Runtime, on its Python thread) and a process context's child both start
// the same way -- isolated configuration, UTF-8 mode, the pyctx module
// registered -- and differ only in who owns signals.
#pragma once

#include <string>

#include "core/base/error.h"

namespace pyctx::core {

struct EmbedSettings {
    std::string home;          // "" = Python's own
    std::string program_name;  // "" = Python's own
    int allocator = 0;         // 0 default, 1 malloc, 2 pymalloc (pyctx_allocator)
    bool own_signals = false;  // install Python's signal handlers (a child only)
    bool process_child = false;  // this is a process context's child
};

// Pre-initializes and initializes Python; the calling thread then holds the
// GIL with the main thread state. The error names the step that failed.
Error initialize_python(const EmbedSettings &s);

// In a process context's child, the process-wide state the pyctx module
// reaches -- the store, the host's endpoints and channels -- is the host
// process's, not this one's: the pyctx module sends those operations to the
// host as reserved host calls (core/host/builtin_calls.h) instead of
// acting on an empty copy.
bool in_process_child();

}  // namespace pyctx::core
