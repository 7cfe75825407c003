// One owner for a request's life: submission, the queue, the exactly-once
// claim, deadlines, cancel, the synchronous wait, outcome counting and
// delivery. Executor-independent: the lane drives its context's executor
// (executor.h) but never runs Python itself. Sync is async plus a wait on
// the same path, so every request can be cancelled and timed out the same
// way, from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "core/base/error.h"
#include "core/engine/request_queue.h"
#include "core/request/request.h"

namespace pyctx::core {

class Executor;
class Service;

struct LaneStats {
    uint64_t completed = 0, failed = 0, cancelled = 0, timed_out = 0, closed = 0;
    uint64_t queue_depth = 0;
    uint64_t live_objects = 0;  // object handles made and not released (0 once closing)
};

// Where an outcome is decided, which says where it may be delivered.
enum class Origin {
    executor,        // the executor's own thread (it may batch the delivery)
    library_thread,  // a library thread holding no lock or GIL: deliver here
    host_thread,     // a host's thread (cancel, close): via the service thread
};

class Lane {
public:
    // `service` fires deadlines and delivers host-thread completions;
    // `owner` is whatever keeps this lane alive (its context), so a deadline
    // never fires into a lane that is gone.
    Lane(std::string name, size_t queue_capacity, Service &service);
    Lane(const Lane &) = delete;
    Lane &operator=(const Lane &) = delete;

    void attach(Executor *executor, std::weak_ptr<void> owner) {
        executor_ = executor;
        owner_ = std::move(owner);
    }
    RequestQueue &queue() { return queue_; }
    const std::string &name() const { return name_; }

    uint64_t next_request_id() { return ids_->fetch_add(1, std::memory_order_relaxed); }
    // Draws request ids from `ids` from now on (a pool's members share one
    // counter, so ids are unique per pool). Before the lane is published.
    void share_ids(std::shared_ptr<std::atomic<uint64_t>> ids) {
        shared_ids_ = std::move(ids);
        ids_ = shared_ids_.get();
    }

    // Accepts `r` (its id set). With `watch_deadline`, a deadline is fired
    // by the service thread; otherwise the waiter times it out itself. On an
    // error the request was not accepted and will never complete.
    Error submit(RequestRef r, bool watch_deadline);
    // Accepts requests[0..count) in order with one wake-up (deadlines
    // watched). Stops at the first refusal, returning its error;
    // *accepted is how many were accepted (their references move).
    Error submit_batch(Request *const *requests, size_t count, size_t *accepted);
    // Waits for an accepted request the caller holds a reference to, until
    // it is done or `deadline_ns` (0: none) passes; at the deadline the
    // request is completed as timed out (if nobody completed it first). A
    // context thread waiting inside a host function keeps serving its own
    // queue meanwhile. Afterwards the outcome is in r->outcome.
    void wait(Request *r, int64_t deadline_ns);
    // Waits for `r` to be done without completing it: false when
    // `deadline_ns` (0: none) passed first. Serves the waiting context
    // thread's queue only when there is no deadline.
    bool wait_done(Request *r, int64_t deadline_ns);
    // Submits a synchronous request and waits for it (nested on the
    // executor's own thread).
    Outcome run_sync(RequestRef r);

    Error cancel(uint64_t request_id);
    // The service thread: `r`'s deadline passed.
    void expire(Request *r);

    // Records the outcome of a request the caller has claimed, counts it,
    // and delivers it (see Origin).
    void finish(Request *r, Outcome &&outcome, Origin origin);
    // Claims and finishes; false when someone else already had.
    bool complete(Request *r, Outcome &&outcome, Origin origin);
    // Hands an already-claimed request with its outcome to its submitter:
    // an async request's sink runs; a sync request's waiter is woken.
    static void deliver(Request *r);
    // Marks `r` done and wakes its waiter (sinks of waitable async requests
    // call this once they have finished with the outcome).
    static void signal_done(Request *r);

    // Executor-internal messages: accepted until the executor has finished.
    bool post_control(RequestRef r);
    // Every handle the executor made is gone at once (a process context's
    // child ended): the live count starts again from zero.
    void objects_lost() { n_objects_.store(0, std::memory_order_relaxed); }

    // Close watches. A front end's object with nothing in flight here (a
    // stream waiting for credit) parks a request to learn of the close:
    // begin_close delivers every parked request, its outcome `closed`, from
    // the service thread (not counted in the stats: nobody submitted it),
    // unless its owner took it back first. watch_close takes one reference,
    // and is false (taking none) once the lane is closing; unwatch_close is
    // true when it took the request back, with that reference. Exactly one
    // of the two ends every watch.
    bool watch_close(Request *r);
    bool unwatch_close(Request *r);

    // Closing: refuse new requests, complete the running ones as closed
    // (stopping their Python work), end the close watches. False when
    // already closing.
    bool begin_close();
    bool is_closing() const { return closing_.load(std::memory_order_acquire); }
    // Completes everything still queued or pending as a task as closed.
    void complete_all_as_closed(Origin origin);

    LaneStats stats() const;

private:
    void count(const Error &e);
    // The one wait: `expire` completes the request at the deadline.
    bool wait_until(Request *r, int64_t deadline_ns, bool expire);
    Error refusal(RequestQueue::Push why) const;
    Error closed_error() const;
    void end_close_watches();

    const std::string name_;
    Service &service_;
    Executor *executor_ = nullptr;
    std::weak_ptr<void> owner_;
    RequestQueue queue_;
    std::atomic<uint64_t> next_id_{1};
    std::shared_ptr<std::atomic<uint64_t>> shared_ids_;
    std::atomic<uint64_t> *ids_ = &next_id_;
    std::atomic<bool> closing_{false};
    std::mutex watches_mu_;
    std::unordered_set<Request *> watches_;  // under watches_mu_
    bool watches_ended_ = false;             // under watches_mu_
    // Written by the executor's thread on every completion: kept off the
    // line of next_id_, which every submitting thread writes.
    alignas(64) std::atomic<uint64_t> n_completed_{0};
    std::atomic<uint64_t> n_failed_{0}, n_cancelled_{0}, n_timed_out_{0}, n_closed_{0};
    // Counted where outcomes are decided, so every executor counts alike.
    std::atomic<int64_t> n_objects_{0};
};

}  // namespace pyctx::core
