// The unbounded parts of ending an interpreter, done where no lock is held:
// joining the non-daemon threads Python code started and running its atexit
// callbacks. With the GIL of the interpreter concerned held.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pyctx::core {

// A subinterpreter about to end: joins its non-daemon threads (may block as
// long as they run) and runs its atexit callbacks, so that
// Py_EndInterpreter, run under the process-wide interpreter lock, finds
// nothing left to wait for. Errors are reported as unraisable.
void finish_subinterpreter_work();
// Context thread of an own interpreter, GIL held, just before it ends:
// keeps CPython 3.13.0-3.13.2 from printing an error about the thread's
// dummy threading entry while the interpreter ends.
void quiet_dummy_thread_teardown();

// The main interpreter before finalization: joins its non-daemon threads
// until `deadline_ns` (steady clock) and returns the names of those still
// running (empty when finalizing is safe).
std::vector<std::string> join_main_threads(int64_t deadline_ns);

}  // namespace pyctx::core
