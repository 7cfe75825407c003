// Runtime-wide set-up steps (core/host/setup_log.h) on the wire to a
// process context's child: in its start-up configuration (every step logged
// so far) and as setup_step messages (each one logged later, sent before
// the first request that follows it). The child keeps a copy of the host's
// log, step for step, so it applies exactly what an in-process context
// would, in the same order.
#pragma once

#include "core/engine/process/wire.h"
#include "core/host/setup_log.h"

namespace pyctx::core::wire {

inline void write_setup_step(Writer &w, const SetupStep &s) {
    w.u8(static_cast<uint8_t>(s.kind)).str(s.arg).str(s.arg2);
}

// False for a kind this side does not know (the two sides disagree).
inline bool read_setup_step(Reader &r, SetupStep *out) {
    const uint8_t kind = r.u8();
    out->arg = r.str();
    out->arg2 = r.str();
    if (!r.ok() || kind > static_cast<uint8_t>(SetupStep::Kind::run_code)) return false;
    out->kind = static_cast<SetupStep::Kind>(kind);
    return true;
}

}  // namespace pyctx::core::wire
