// Executor-internal messages sent through the lane's queue, so they reach
// the context thread in order with the requests and run with its GIL. They
// are never claimed, counted or found by cancel; a message that never runs
// (the context ended first) releases what it carries in its destructor.
#pragma once

#include "core/host/host_call.h"
#include "core/request/request.h"

namespace pyctx::core {

struct ControlRequest final : Request {
    enum class Op : uint8_t {
        drop_env,     // forget env `subject`
        cancel_task,  // cancel the asyncio task of request `subject`
        host_reply,   // resolve the future of awaited host call `call`
        release_views,  // release the views the host let go of (buffer ledger)
    };

    ControlRequest(Op op, uint64_t subject, HostCall *call = nullptr)
        : op(op), subject(subject), call(call) {
        kind = RequestKind::control;
    }
    ~ControlRequest() override {
        if (call) call->release();
    }
    // Hands over the carried call (the message keeps no reference).
    HostCall *take_call() {
        HostCall *c = call;
        call = nullptr;
        return c;
    }

    const Op op;
    const uint64_t subject;

private:
    HostCall *call;
};

}  // namespace pyctx::core
