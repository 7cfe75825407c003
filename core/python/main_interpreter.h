// Running a little Python in the main interpreter from a subinterpreter's
// thread: the subinterpreter's thread state is saved, a temporary thread
// state of the main interpreter is made current (its GIL taken), the
// process-wide import lock is held as the main interpreter, `fn` runs, and
// everything is undone in reverse.
#pragma once

#include <functional>

namespace pyctx::core {

// Called with the subinterpreter's GIL held; returns with it held. False
// (fn not run) when no thread state could be made.
bool run_in_main_interpreter(const std::function<void()> &fn);

}  // namespace pyctx::core
