// What the Python glue needs from the thread that runs it: the in-process
// executor (core/engine/inproc/) implements this, so the glue never depends
// on the engine. Every call is made on that thread, with its GIL held
// unless noted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/host/host_call.h"
#include "core/request/buffers.h"
#include "core/request/request.h"

namespace pyctx::core {

class PyState;

class ContextThread {
public:
    // The context thread the caller runs on, or nullptr (another thread,
    // e.g. a Python thread started by user code).
    static ContextThread *current() { return tls_current_; }

    virtual const std::string &context_name() const = 0;
    virtual PyState &py() = 0;

    // Completes `r` with `out` unless someone else already has.
    virtual void complete(Request *r, Outcome &&out) = 0;
    // The innermost request this thread is executing, or nullptr.
    virtual Request *current_request() = 0;
    // Clears an interrupt posted for `r` that has not fired yet.
    virtual void clear_pending_interrupt(Request *r) = 0;
    virtual bool is_closing() const = 0;

    // Runs a host function with the GIL released and this thread's state
    // published, so the host may call back into this context inline.
    virtual void invoke_host(HostCall *call) = 0;
    // Serves this context's queue until `call` is answered, `waiting` is
    // claimed by someone else (cancel, timeout, close) or the context closes.
    virtual void wait_host_answer(HostCall *call, const Request *waiting) = 0;
    // Where answers to this context's host calls go.
    virtual std::shared_ptr<HostCallWaiter> host_call_waiter() = 0;

    // Coroutine requests running as tasks on this context's loop.
    virtual void add_task(Request *r) = 0;
    virtual Request *take_task(uint64_t id) = 0;  // the registry's reference
    // Readable when the thread should look at its queue (asyncio wake-up).
    virtual int wake_fd() const = 0;
    // The context's buffer ledger (core/request/buffers.h).
    virtual const std::shared_ptr<BufferLedger> &buffer_ledger() = 0;

protected:
    ~ContextThread() = default;
    static void set_current(ContextThread *t) { tls_current_ = t; }

private:
    static inline thread_local ContextThread *tls_current_ = nullptr;
};

}  // namespace pyctx::core
