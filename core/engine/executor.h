// The executor seam: where a context's Python runs. The lane (lane.h) owns
// every request's life -- queue, claim, deadlines, cancel, delivery -- and
// drives an executor through this interface; an executor only takes
// requests off the lane's queue, runs them, and completes them through the
// lane. Implementations: core/engine/inproc/ (a thread of this process on
// the main interpreter or an own-GIL subinterpreter).
#pragma once

#include <cstdint>

#include "core/base/error.h"
#include "core/request/request.h"

namespace pyctx::core {

class Executor {
public:
    virtual ~Executor() = default;

    // Starts running (thread, interpreter, preload). Blocks until the
    // executor is ready for requests or has failed.
    virtual Error start() = 0;
    // New work is in the lane's queue, or the lane is closing.
    virtual void wake() = 0;
    // `r` was claimed by someone else while it was running or pending as a
    // task: stop its Python work (interrupt it, cancel the task).
    virtual void stop_claimed(Request *r) = 0;
    // Delivery of an outcome decided on the executor's own thread while it
    // runs Python: true when the executor batches it for later (it then
    // holds a reference); false means "deliver it yourself".
    virtual bool defer_delivery(Request *r) = 0;

    // True on the executor's own thread.
    virtual bool on_own_thread() const = 0;
    // A synchronous request made on the executor's own thread (from inside
    // a host function): run it right there, nested, and return its outcome.
    virtual Outcome run_nested(Request *r) = 0;
    // Called on the executor's own thread while it waits for a synchronous
    // request `r` of another context: serve this executor's own queue until
    // `r` is done. False when it cannot serve now (then the caller parks).
    virtual bool serve_until_done(Request *r) = 0;

    // A synchronous caller waits for `r`, which it submitted: an executor
    // with a direct path for the outcome waits here until `deadline_ns`
    // (0: none). True when `r` is done; false leaves the rest to the lane's
    // usual wait (which also serves the queue of a waiting context thread
    // of another executor, so such a caller should be left to it).
    virtual bool await_outcome(Request *, int64_t) { return false; }

    // Forgets the namespace of env `env_id` (later, on the executor).
    virtual void release_env(uint64_t env_id) = 0;

    // The lane is closing: finish what runs and exit.
    virtual void begin_close() = 0;
    // Waits until the executor no longer runs Python (its interpreter is
    // gone); false at the deadline.
    virtual bool wait_left_python(int64_t deadline_ns) = 0;
    // Waits until the executor has exited; false at the deadline.
    virtual bool wait_exited(int64_t deadline_ns) = 0;
    virtual bool has_exited() const = 0;
    // Close timed out: stop waiting for the executor; it finishes (and frees
    // itself with its context) if it ever returns.
    virtual void abandon() = 0;

    // Native id of the thread that runs Python (0 before start).
    virtual uint64_t thread_id() const = 0;

    // A cheap, racy hint for routers (pools): `parked` when the executor's
    // thread sleeps and a submission has to wake it (a futex or selector
    // wake-up, ~12 us against ~0.2 us for a spinning thread); `busy` while
    // it runs a request. Executors that cannot tell report neither.
    struct Activity {
        bool parked = false;
        bool busy = false;
    };
    virtual Activity activity() const { return {}; }

    // The executor whose thread this is, or nullptr.
    static Executor *current() { return tls_current_; }

protected:
    static void set_current(Executor *e) { tls_current_ = e; }

private:
    static inline thread_local Executor *tls_current_ = nullptr;
};

}  // namespace pyctx::core
