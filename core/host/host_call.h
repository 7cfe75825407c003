// A pending invocation of a host function, shared (reference counted)
// between the Python side that waits for it and the host that answers it
// exactly once, from any thread, at any later time. No Python here: the
// Python side (core/python/host_calls.cpp) keeps whatever Python objects an
// awaited call needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"
#include "core/host/registry.h"

namespace pyctx::core {

struct HostCall;

// The calling side of a host call: implemented by the context whose Python
// made the call, so an answer can reach it without the host layer knowing
// what a context is.
class HostCallWaiter {
public:
    virtual ~HostCallWaiter() = default;
    // A blocking call's answer is in: wake the context thread if it waits
    // (it serves its queue meanwhile, so a plain futex on `answered` is not
    // enough).
    virtual void host_answer_arrived() = 0;
    // An awaited call's answer is in: resolve its future on the context
    // thread. Takes one reference to `call`, also when it returns false
    // (the context can no longer run anything).
    virtual bool post_host_reply(HostCall *call) = 0;
};

struct HostCall {
    std::atomic<int> refs{2};  // the waiting Python side + the answering host
    std::string name;
    std::string context_name;  // "" for a Python thread that is not a context's
    ByteBuffer args;           // CBOR array
    std::shared_ptr<HostFunction> function;
    std::shared_ptr<HostCallWaiter> waiter;  // null for non-context threads
    bool awaited = false;                    // pyctx.async_call: answer posted, not waited on

    // The answer, written once by the host before `answered` is set.
    std::atomic<uint32_t> answered{0};
    std::atomic<bool> answer_claimed{false};
    std::atomic<bool> abandoned{false};  // the caller stopped waiting
    bool ok = false;
    // Failed because no host function has this name (a process context's
    // child learns it from the host): Python raises LookupError, as for
    // an unknown name in the other modes.
    bool unknown_function = false;
    ByteBuffer value;
    std::string error_message;

    void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

// Answers (any thread). Both consume the host's reference to the call,
// whatever they return. Invalid CBOR is answered to Python as a HostError
// and reported as Status::decode; an abandoned call gives Status::closed.
Error host_call_return(HostCall *call, const uint8_t *value, size_t len);
Error host_call_fail(HostCall *call, const char *message);

}  // namespace pyctx::core
