// Executor-internal messages of a process context, sent through the lane's
// queue so they reach the child in order with the requests. Never claimed
// or counted.
#pragma once

#include <cstdint>

#include "core/request/request.h"

namespace pyctx::core {

struct ProcessControl final : Request {
    // stop: request `subject`; drop_env: env `subject`; drop_result: what
    // request `subject` made for a result the host no longer wanted (the
    // handle `object_id`, or the stream `subject` when result_form says so);
    // free_block: the result block at offset `subject`, `block_size` bytes,
    // of child `generation` (not sent when that child is gone).
    enum class Op : uint8_t { stop, drop_env, drop_result, free_block };
    ProcessControl(Op op, uint64_t subject) : op(op), subject(subject) {
        kind = RequestKind::control;
    }
    const Op op;
    const uint64_t subject;
    uint64_t block_size = 0;
    uint32_t generation = 0;
};

}  // namespace pyctx::core
