// Replaying the runtime-wide set-up log (core/host/setup_log.h) in the
// current interpreter. Context thread, GIL held.
#pragma once

#include <cstdint>

#include "core/base/error.h"
#include "core/host/setup_log.h"

namespace pyctx::core {

// The request path's check: one atomic load.
inline bool runtime_setup_changed(uint64_t seen) { return setup_log().generation() != seen; }

// Applies, in order, every step this interpreter has not applied yet (worker
// contexts share one interpreter: each step runs once there, by the first
// context to get to it) and sets *seen to the generation applied. A step
// that fails still counts as applied (it is not retried) and the later ones
// run; the first failure is returned in *err naming its step.
bool apply_runtime_setup(uint64_t *seen, Error *err);

}  // namespace pyctx::core
