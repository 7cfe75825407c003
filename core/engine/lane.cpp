#include "core/engine/lane.h"

#include "core/base/futex.h"
#include "core/engine/executor.h"
#include "core/engine/service.h"

namespace pyctx::core {

namespace {
Error timeout_error() { return Error(Status::timeout, "the request timed out"); }
}  // namespace

Lane::Lane(std::string name, size_t queue_capacity, Service &service)
    : name_(std::move(name)), service_(service), queue_(queue_capacity) {}

Error Lane::closed_error() const {
    return Error(Status::closed, "context '" + name() + "' is closed");
}

// ---------------------------------------------------------------------------
// submission and waiting

Error Lane::submit(RequestRef request, bool watch_deadline) {
    Request *r = request.get();
    // Decided before the request becomes visible: the executor may complete
    // and release it the moment it is queued.
    watch_deadline = watch_deadline && r->deadline_ns != 0;
    if (closing_.load(std::memory_order_acquire)) return closed_error();
    if (watch_deadline) {
        r->deadline_watched.store(true, std::memory_order_relaxed);
        r->retain();  // the watch's reference, taken while still private
    }
    switch (queue_.push(r)) {
        case RequestQueue::Push::ok: break;
        case RequestQueue::Push::closed:
            if (watch_deadline) r->release();
            return closed_error();
        case RequestQueue::Push::full:
            if (watch_deadline) r->release();
            return Error(Status::queue_full, "context '" + name() + "' queue is full");
    }
    request.detach();  // the queue's reference now
    if (watch_deadline) service_.watch(r, this, owner_);
    executor_->wake();
    return {};
}

Outcome Lane::run_sync(RequestRef request) {
    Request *r = request.get();
    if (executor_->on_own_thread()) {
        if (closing_.load(std::memory_order_acquire)) return Outcome{closed_error(), {}};
        return executor_->run_nested(r);
    }
    r->retain();  // one for the queue (dropped by submit on failure), one kept here
    if (Error e = submit(RequestRef(r), false); !e.ok()) return Outcome{std::move(e), {}};
    wait(r, r->deadline_ns);
    return std::move(r->outcome);
}

void Lane::wait(Request *r, int64_t deadline_ns) {
    if (r->is_done()) return;
    static thread_local AdaptiveSpin caller_spin(2048);
    if (caller_spin.spin([r] { return r->is_done(); })) return;

    // A context thread blocked here (inside a host function) keeps serving
    // its own queue, so two contexts calling each other never deadlock.
    // The service then fires the deadline, since this thread is busy.
    Executor *me = Executor::current();
    if (me && me != executor_) {
        if (deadline_ns && !r->deadline_watched.exchange(true, std::memory_order_acq_rel)) {
            r->retain();
            service_.watch(r, this, owner_);
        }
        if (me->serve_until_done(r)) return;
    }

    for (;;) {
        uint32_t v = Request::kPending;
        if (!r->done.compare_exchange_strong(v, Request::kParkedWaiter, std::memory_order_acq_rel) &&
            v == Request::kDone)
            return;
        int64_t remaining = -1;
        if (deadline_ns) {
            remaining = deadline_ns - now_ns();
            if (remaining <= 0) {
                if (r->claim()) {
                    executor_->stop_claimed(r);
                    finish(r, Outcome{timeout_error(), {}}, Origin::host_thread);
                }
                deadline_ns = 0;  // completed now or by someone else: wait for that
                continue;
            }
        }
        futex_wait(r->done, Request::kParkedWaiter, remaining);
        if (r->is_done()) return;
    }
}

// ---------------------------------------------------------------------------
// completion

void Lane::count(const Error &e) {
    switch (e.status) {
        case Status::ok: n_completed_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::cancelled: n_cancelled_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::timeout: n_timed_out_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::closed: n_closed_.fetch_add(1, std::memory_order_relaxed); break;
        default: n_failed_.fetch_add(1, std::memory_order_relaxed); break;
    }
}

void Lane::finish(Request *r, Outcome outcome, Origin origin) {
    count(outcome.error);
    r->outcome = std::move(outcome);
    // Completed before its deadline: the watch lets go of it now.
    if (r->deadline_watched.load(std::memory_order_acquire)) service_.unwatch(r);
    if (r->is_sync()) {
        deliver(r);
    } else if (origin == Origin::executor) {
        if (!executor_->defer_delivery(r)) deliver(r);
    } else if (origin == Origin::library_thread) {
        deliver(r);
    } else {
        r->retain();
        service_.post_delivery(r);
    }
}

bool Lane::complete(Request *r, Outcome outcome, Origin origin) {
    if (!r->claim()) return false;
    finish(r, std::move(outcome), origin);
    return true;
}

void Lane::deliver(Request *r) {
    if (!r->is_sync()) {
        r->sink(r, r->sink_data);
        return;
    }
    uint32_t v = r->done.load(std::memory_order_acquire);
    for (;;) {
        if (v == Request::kServingWaiter) {
            // The waiter stays until kDone, so it is still there to wake.
            if (!r->done.compare_exchange_weak(v, Request::kWaking, std::memory_order_acq_rel))
                continue;
            r->serving_waiter->wake_waiter();
            r->done.store(Request::kDone, std::memory_order_release);
            return;
        }
        if (r->done.compare_exchange_weak(v, Request::kDone, std::memory_order_acq_rel)) {
            if (v == Request::kParkedWaiter) futex_wake(r->done);
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// cancel, deadlines, control

Error Lane::cancel(uint64_t id) {
    RequestRef found(queue_.find(id));
    if (!found) return Error(Status::not_found, "no pending request " + std::to_string(id));
    if (!found->claim())
        return Error(Status::not_found, "request " + std::to_string(id) + " already completed");
    executor_->stop_claimed(found.get());
    finish(found.get(), Outcome{Error(Status::cancelled, "the request was cancelled"), {}},
           Origin::host_thread);
    return {};
}

void Lane::expire(Request *r) {
    if (!r->claim()) return;
    executor_->stop_claimed(r);
    finish(r, Outcome{timeout_error(), {}}, Origin::library_thread);
}

bool Lane::post_control(RequestRef r) {
    if (!queue_.push_control(r.get())) return false;
    r.detach();
    executor_->wake();
    return true;
}

// ---------------------------------------------------------------------------
// closing

bool Lane::begin_close() {
    if (closing_.exchange(true, std::memory_order_acq_rel)) return false;
    queue_.close();
    std::vector<Request *> running;
    queue_.running_retained(running);
    for (Request *r : running) {
        if (r->claim()) {
            executor_->stop_claimed(r);
            finish(r, Outcome{closed_error(), {}}, Origin::host_thread);
        }
        r->release();
    }
    executor_->begin_close();
    return true;
}

void Lane::complete_all_as_closed(Origin origin) {
    std::vector<Request *> queued, tasks;
    queue_.take_all(queued, tasks);
    for (auto *list : {&queued, &tasks}) {
        for (Request *r : *list) {
            if (!r->is_control() && r->claim()) finish(r, Outcome{closed_error(), {}}, origin);
            r->release();
        }
    }
}

LaneStats Lane::stats() const {
    LaneStats s;
    s.completed = n_completed_.load(std::memory_order_relaxed);
    s.failed = n_failed_.load(std::memory_order_relaxed);
    s.cancelled = n_cancelled_.load(std::memory_order_relaxed);
    s.timed_out = n_timed_out_.load(std::memory_order_relaxed);
    s.closed = n_closed_.load(std::memory_order_relaxed);
    s.queue_depth = queue_.depth();
    return s;
}

}  // namespace pyctx::core
