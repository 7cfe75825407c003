// The Python code that routes `logging` to the host in one interpreter,
// logged as a runtime set-up step (core/host/setup_log.h) so every context,
// running or created later, gets it. No Python API here: just the source.
#pragma once

#include <string>

namespace pyctx::core {

// Installs (or updates the level of) the root logger's host handler.
std::string log_install_code(int min_level);
// Removes it.
std::string log_remove_code();

}  // namespace pyctx::core
