// The registry of a context's accepted requests, executor-independent:
// queued (an intrusive FIFO), running (a stack: a host function may call
// back in, nesting requests on one thread), and coroutine tasks pending on
// an event loop. One spin lock covers the FIFO, another the running stack
// and the tasks; a request moves from queued to running with both held, so
// it is never invisible to cancel (which takes both, FIFO lock first). The
// executor's end of a request takes only the second, which submitting
// threads never contend for.
//
// Control messages (executor-internal work such as dropping an env) share
// the FIFO so they reach the thread in order, but they are never claimed,
// counted or found by cancel.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/base/id_map.h"
#include "core/base/spin_lock.h"
#include "core/request/request.h"

namespace pyctx::core {

class RequestQueue {
public:
    enum class Push { ok, closed, full };

    explicit RequestQueue(size_t capacity) : capacity_(capacity) { running_.reserve(16); }
    RequestQueue(const RequestQueue &) = delete;
    RequestQueue &operator=(const RequestQueue &) = delete;

    // A user request; on Push::ok the queue owns the caller's reference.
    Push push(Request *r);
    // Several user requests in one critical section, in order, stopping at
    // the first that does not fit; *pushed says how many went in.
    Push push_batch(Request *const *rs, size_t count, size_t *pushed);
    // A control message; accepted until close_control(). Owns the reference
    // on true.
    bool push_control(Request *r);

    bool has_work() const { return depth_.load(std::memory_order_acquire) != 0; }
    // Nothing queued, running or pending as a task (a pool's leaving member
    // has finished its work).
    bool idle() const;
    size_t depth() const { return depth_.load(std::memory_order_relaxed); }

    // The head of the FIFO (the caller owns its reference). A user request
    // becomes the top of the running stack in the same critical section.
    Request *pop_to_running();
    // Makes `r` (run inline, never queued) the top of the running stack.
    void push_running(Request *r);
    // `r` (the top) is no longer running. Returns the new top's id (0: none).
    uint64_t end_running(Request *r);
    // Marks an interrupt for request `id` when it is the innermost running
    // request and not waiting for a host answer. True when marked.
    bool mark_interrupt(uint64_t id);
    // Retained copies of every running request (for close).
    void running_retained(std::vector<Request *> &out);

    // Coroutine requests pending as tasks (the registry keeps a reference).
    void add_task(Request *r);
    Request *take_task(uint64_t id);  // the registry's reference, or nullptr

    // A queued user request, a running one or a task, retained; or nullptr.
    Request *find(uint64_t id);

    // Refuses further user requests (Push::closed); true for the call that
    // closed it. close_control() refuses control messages too.
    bool close();
    void close_control();
    bool is_closed() const { return closed_.load(std::memory_order_acquire); }

    // Empties the FIFO into `queued` (references move) and appends retained
    // copies of the tasks to `tasks`.
    void take_all(std::vector<Request *> &queued, std::vector<Request *> &tasks);

private:
    void link(Request *r);

    const size_t capacity_;
    mutable SpinLock lock_;
    Request *head_ = nullptr;
    Request *tail_ = nullptr;
    std::atomic<size_t> depth_{0};
    size_t user_depth_ = 0;  // queued user requests (for the bound)
    std::atomic<bool> closed_{false};
    bool control_open_ = true;

    // On a cache line of their own: the executor's thread works here while
    // submitting threads write the FIFO's line.
    alignas(64) mutable SpinLock run_lock_;
    std::vector<Request *> running_;
    IdMap<Request *> tasks_;  // no allocation per task (id_map.h)
};

}  // namespace pyctx::core
