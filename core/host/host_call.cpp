#include "core/host/host_call.h"

#include "core/base/futex.h"
#include "core/cbor/reader.h"

namespace pyctx::core {

namespace {

Error deliver_answer(HostCall *call) {
    Error result;
    if (call->abandoned.load(std::memory_order_acquire))
        result = Error(Status::closed, "the calling context has closed");
    if (call->awaited) {
        // The future lives on the context thread: hand the answer over.
        call->retain();  // the reply's reference
        bool posted = false;
        if (call->waiter) {
            posted = call->waiter->post_host_reply(call);
        } else {
            call->release();
        }
        if (!posted && result.ok()) result = Error(Status::closed, "the calling context has closed");
    } else {
        call->answered.store(1, std::memory_order_release);
        futex_wake_all(call->answered);
        if (call->waiter) call->waiter->host_answer_arrived();
    }
    call->release();  // the host's reference
    return result;
}

bool claim_answer(HostCall *call) {
    return !call->answer_claimed.exchange(true, std::memory_order_acq_rel);
}

}  // namespace

Error host_call_return(HostCall *call, const uint8_t *value, size_t len) {
    if (!claim_answer(call)) return Error(Status::invalid_argument, "host call already answered");
    Error err;
    if (!value || len == 0) {
        err = Error(Status::decode, "host answer is empty: expected one CBOR item");
    } else {
        cbor::check_single_item(value, len, &err);
    }
    if (!err.ok()) {
        call->ok = false;
        call->error_message = "host function '" + call->name + "' answered invalid CBOR: " + err.message;
        Error closed = deliver_answer(call);
        return closed.ok() ? err : closed;
    }
    call->ok = true;
    if (!call->value.append(value, len)) {
        call->ok = false;
        call->error_message = "out of memory";
    }
    return deliver_answer(call);
}

Error host_call_fail(HostCall *call, const char *message) {
    if (!claim_answer(call)) return Error(Status::invalid_argument, "host call already answered");
    call->ok = false;
    call->error_message = message ? message : "host function failed";
    return deliver_answer(call);
}

}  // namespace pyctx::core
