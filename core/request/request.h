// One unit of work for a context, shared (reference counted) between the
// submitter, the context's queue and executor, and whoever may cancel or
// time it out. The request's life (submit, queue, claim, run, outcome,
// delivery) is driven by core/engine/lane.h; this file is only the object.
//
// Exactly-once completion is decided by one atomic exchange (`claim`): the
// first party to claim a request writes its outcome and delivers it; every
// later attempt is a no-op. Because a request owns copies of all its inputs,
// it can be completed (cancelled, timed out, closed) at any moment, even
// while Python still runs it; the executor then discards its result.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"
#include "core/request/buffers.h"

namespace pyctx::core {

struct Outcome {
    Error error;       // status ok => `value` holds CBOR
    ByteBuffer value;
    // Non-zero when the executor made an object handle for this result (see
    // ResultForm::object): whoever drops the outcome unclaimed must release it.
    uint64_t object_id = 0;
    BufferRef buffer;  // ResultForm::buffer: the result as a view (value empty)
};

enum class RequestKind : uint8_t {
    call,     // target = module, text = function path, args/kwargs
    eval,     // text = expression, args = locals map (optional), env_id
    exec,     // text = code, env_id
    control,  // executor-internal message (see ControlRequest); never claimed
    // Object handles and streams (core/python/objects.h, streams.h): plain
    // data only -- a handle or stream is a context-local integer id
    // (`object_id`), never a pointer, so these kinds can cross any executor
    // seam (a shared-memory ring to a child process included).
    object_call,  // object_id(*args, **kwargs)
    method_call,  // object_id.<text>(*args, **kwargs)
    getattr,      // object_id.<text>
    release,      // drop the handle object_id
    stream_pull,  // stream object_id: advance up to `count` items, return them
    stream_close, // stream object_id: close it (its finally blocks run)
};

// What a call, eval or object request returns.
// (Numbered as the public forms, PYCTX_RESULT_*.)
enum class ResultForm : uint8_t {
    value = 0,   // the result as CBOR
    object = 1,  // a new handle to the result: CBOR tag kTagObjectRef [key, id]
    buffer = 2,  // a view of a buffer-protocol result in Outcome::buffer (value empty)
    stream = 3,  // the result (an iterator) becomes stream `id` (null value)
};

// Where a request is. Written by the executor; read by cancel and deadlines
// to decide how to stop it.
enum class Phase : uint8_t { queued, running, task, finished };

struct Request;

// How an outcome reaches its submitter. Sync requests have no sink: their
// waiter is woken through `done`.
using CompletionSink = void (*)(Request *request, void *sink_data);

// Wakes a waiter that serves its own context's queue while it waits (a
// context thread blocked in a sync request to another context).
class ServingWaiter {
public:
    virtual void wake_waiter() = 0;

protected:
    ~ServingWaiter() = default;
};

struct Request {
    // Values of `done`, the word a synchronous waiter watches.
    static constexpr uint32_t kPending = 0;
    static constexpr uint32_t kDone = 1;
    static constexpr uint32_t kParkedWaiter = 2;   // waiter sleeps on the futex
    static constexpr uint32_t kServingWaiter = 3;  // waiter serves its own queue
    static constexpr uint32_t kWaking = 4;  // deliverer is waking a serving waiter

    // ---- immutable after submission ----
    RequestKind kind = RequestKind::call;
    uint64_t id = 0;
    uint64_t env_id = 0;      // 0 = the context's default namespace
    int64_t deadline_ns = 0;  // 0 = none (steady clock)
    std::string target;       // module name (call)
    std::string text;         // function path, expression or code
    ByteBuffer args;          // CBOR array (call) / locals map (eval)
    ByteBuffer kwargs;        // CBOR map (call)
    uint64_t object_id = 0;   // object kinds: the handle; stream kinds: the stream
    uint32_t count = 0;       // stream_pull: how many items it may advance
    ResultForm result_form = ResultForm::value;
    CompletionSink sink = nullptr;
    void *sink_data = nullptr;
    // Buffers the arguments name by index (CBOR tag kTagBuffer); the front
    // end lets go of them when the request completes.
    AttachedBuffers buffers;

    // ---- shared state ----
    std::atomic<uint32_t> refs{1};
    std::atomic<bool> claimed{false};
    std::atomic<Phase> phase{Phase::queued};
    // Set when an interrupt was posted for this request and may not have
    // fired yet (cleared when the request ends, so it never hits the next).
    std::atomic<uint8_t> interrupt_posted{0};
    // Set (GIL held) while the request waits for a host function's answer:
    // an interrupt must then wake the wait instead of raising in whatever
    // nested request the thread serves meanwhile.
    std::atomic<bool> host_waiting{false};
    // Index in the service's deadline heap while watched (under its lock),
    // and whether the service was asked to watch it at all.
    int32_t deadline_slot = -1;
    std::atomic<bool> deadline_watched{false};

    // The waiter's word, on a cache line of its own: a synchronous caller
    // spins reading it while the context thread runs the request, and each
    // write the context thread makes to a line the caller is reading costs a
    // cross-core transfer (claim, phase, refs, interrupt flag, the outcome:
    // several per request, a measurable share of a 2 us round trip).
    alignas(64) std::atomic<uint32_t> done{kPending};
    ServingWaiter *serving_waiter = nullptr;  // valid while done == kServingWaiter

    alignas(64) Outcome outcome;  // written by the claimer before delivery
    Request *next = nullptr;  // queue link, owned by the queue

    Request() = default;
    Request(const Request &) = delete;
    Request &operator=(const Request &) = delete;
    // Virtual: front ends allocate requests as their own types (the C API's
    // pyctx_result doubles as the result handed to the callback).
    virtual ~Request() = default;

    bool is_sync() const { return sink == nullptr; }
    bool is_control() const { return kind == RequestKind::control; }

    void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
    }

    // Claims the right to complete. True exactly once.
    bool claim() {
        return !claimed.load(std::memory_order_relaxed) &&
               !claimed.exchange(true, std::memory_order_acq_rel);
    }
    bool is_claimed() const { return claimed.load(std::memory_order_acquire); }
    bool is_done() const { return done.load(std::memory_order_acquire) == kDone; }

protected:
    // Called when the last reference goes. Pooled request types recycle
    // themselves instead of freeing.
    virtual void destroy() { delete this; }

    // Back to the just-constructed state, keeping string and buffer storage
    // (small ones) so the next request allocates nothing.
    void reset_for_reuse() {
        kind = RequestKind::call;
        id = env_id = 0;
        deadline_ns = 0;
        target.clear();
        text.clear();
        args.clear_keeping(kKeepBytes);
        kwargs.clear_keeping(kKeepBytes);
        object_id = 0;
        count = 0;
        result_form = ResultForm::value;
        sink = nullptr;
        sink_data = nullptr;
        buffers.clear();
        refs.store(1, std::memory_order_relaxed);
        claimed.store(false, std::memory_order_relaxed);
        phase.store(Phase::queued, std::memory_order_relaxed);
        interrupt_posted.store(0, std::memory_order_relaxed);
        host_waiting.store(false, std::memory_order_relaxed);
        done.store(kPending, std::memory_order_relaxed);
        serving_waiter = nullptr;
        deadline_slot = -1;
        deadline_watched.store(false, std::memory_order_relaxed);
        if (!outcome.error.ok()) outcome.error = Error();
        outcome.value.clear_keeping(kKeepBytes);
        outcome.object_id = 0;
        outcome.buffer = BufferRef();
        next = nullptr;
    }

private:
    static constexpr size_t kKeepBytes = 4096;
};

// Smart pointer for Request references.
class RequestRef {
public:
    RequestRef() = default;
    explicit RequestRef(Request *r) : r_(r) {}  // adopts one reference
    RequestRef(const RequestRef &o) : r_(o.r_) {
        if (r_) r_->retain();
    }
    RequestRef(RequestRef &&o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    RequestRef &operator=(RequestRef o) noexcept {
        std::swap(r_, o.r_);
        return *this;
    }
    ~RequestRef() {
        if (r_) r_->release();
    }
    Request *get() const { return r_; }
    Request *operator->() const { return r_; }
    explicit operator bool() const { return r_ != nullptr; }
    Request *detach() {
        Request *r = r_;
        r_ = nullptr;
        return r;
    }

private:
    Request *r_ = nullptr;
};

}  // namespace pyctx::core
