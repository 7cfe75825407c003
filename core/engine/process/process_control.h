// Executor-internal messages of a process context, sent through the lane's
// queue so they reach the child in order with the requests. Never claimed
// or counted.
#pragma once

#include <cstdint>

#include "core/request/request.h"

namespace pyctx::core {

struct ProcessControl final : Request {
    enum class Op : uint8_t { stop, drop_env };
    ProcessControl(Op op, uint64_t subject) : op(op), subject(subject) {
        kind = RequestKind::control;
    }
    const Op op;
    const uint64_t subject;
};

}  // namespace pyctx::core
