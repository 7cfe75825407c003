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

Error Lane::refusal(RequestQueue::Push why) const {
    if (why == RequestQueue::Push::full)
        return Error(Status::queue_full, "context '" + name() + "' queue is full");
    return closed_error();
}

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
    RequestQueue::Push pushed = queue_.push(r);
    if (pushed != RequestQueue::Push::ok) {
        if (watch_deadline) {
            r->deadline_watched.store(false, std::memory_order_relaxed);
            r->release();
        }
        return refusal(pushed);
    }
    request.detach();  // the queue's reference now
    if (watch_deadline) service_.watch(r, this, owner_);
    executor_->wake();
    return {};
}

Error Lane::submit_batch(Request *const *requests, size_t count, size_t *accepted) {
    *accepted = 0;
    if (closing_.load(std::memory_order_acquire)) return closed_error();
    // Watch references first, while the requests are still private.
    for (size_t i = 0; i < count; ++i) {
        Request *r = requests[i];
        if (r->deadline_ns) {
            r->deadline_watched.store(true, std::memory_order_relaxed);
            r->retain();
        }
    }
    size_t n = 0;
    RequestQueue::Push pushed = queue_.push_batch(requests, count, &n);
    for (size_t i = n; i < count; ++i) {  // refused: no watch, no completion
        if (requests[i]->deadline_ns) {
            requests[i]->deadline_watched.store(false, std::memory_order_relaxed);
            requests[i]->release();
        }
    }
    for (size_t i = 0; i < n; ++i)
        if (requests[i]->deadline_ns) service_.watch(requests[i], this, owner_);
    *accepted = n;
    if (n) executor_->wake();
    return pushed == RequestQueue::Push::ok ? Error() : refusal(pushed);
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

void Lane::wait(Request *r, int64_t deadline_ns) { wait_until(r, deadline_ns, true); }

bool Lane::wait_done(Request *r, int64_t deadline_ns) { return wait_until(r, deadline_ns, false); }

bool Lane::wait_until(Request *r, int64_t deadline_ns, bool expire) {
    // First, even when done already: the executor may hold something the
    // waiter must give back (a process context's completion slot).
    if (r->is_sync() && executor_->await_outcome(r, deadline_ns)) return true;
    if (r->is_done()) return true;
    static thread_local AdaptiveSpin caller_spin(2048);
    if (caller_spin.spin([r] { return r->is_done(); })) return true;

    // A context thread blocked here (inside a host function) keeps serving
    // its own queue, so two contexts calling each other never deadlock.
    // The service then fires the deadline, since this thread is busy.
    Executor *me = Executor::current();
    if (me && me != executor_ && (expire || !deadline_ns)) {
        if (deadline_ns && !r->deadline_watched.exchange(true, std::memory_order_acq_rel)) {
            r->retain();
            service_.watch(r, this, owner_);
        }
        if (me->serve_until_done(r)) return true;
    }

    for (;;) {
        uint32_t v = Request::kPending;
        if (!r->done.compare_exchange_strong(v, Request::kParkedWaiter, std::memory_order_acq_rel) &&
            v == Request::kDone)
            return true;
        int64_t remaining = -1;
        if (deadline_ns) {
            remaining = deadline_ns - now_ns();
            if (remaining <= 0) {
                if (!expire) return r->is_done();
                if (r->claim()) {
                    executor_->stop_claimed(r);
                    finish(r, Outcome{timeout_error(), {}}, Origin::host_thread);
                }
                deadline_ns = 0;  // completed now or by someone else: wait for that
                continue;
            }
        }
        futex_wait(r->done, Request::kParkedWaiter, remaining);
        if (r->is_done()) {
            caller_spin.after_park();
            return true;
        }
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

void Lane::finish(Request *r, Outcome &&outcome, Origin origin) {
    count(outcome.error);
    if (outcome.error.ok()) {
        if (outcome.object_id) {
            n_objects_.fetch_add(1, std::memory_order_relaxed);
        } else if (r->kind == RequestKind::release) {
            n_objects_.fetch_sub(1, std::memory_order_relaxed);
        }
    }
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

bool Lane::complete(Request *r, Outcome &&outcome, Origin origin) {
    if (!r->claim()) return false;
    finish(r, std::move(outcome), origin);
    return true;
}

void Lane::deliver(Request *r) {
    if (r->is_sync()) {
        signal_done(r);
    } else {
        r->sink(r, r->sink_data);
    }
}

void Lane::signal_done(Request *r) {
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
    // The queue closes first: once the executor sees `closing_` and drains,
    // no submission can still slip into the queue behind the drain.
    if (!queue_.close()) return false;
    closing_.store(true, std::memory_order_release);
    std::vector<Request *> running;
    queue_.running_retained(running);
    for (Request *r : running) {
        if (r->claim()) {
            executor_->stop_claimed(r);
            finish(r, Outcome{closed_error(), {}}, Origin::host_thread);
        }
        r->release();
    }
    end_close_watches();
    executor_->begin_close();
    return true;
}

bool Lane::watch_close(Request *r) {
    std::lock_guard lock(watches_mu_);
    if (watches_ended_ || !watches_.insert(r).second) return false;
    r->retain();
    return true;
}

bool Lane::unwatch_close(Request *r) {
    std::lock_guard lock(watches_mu_);
    return watches_.erase(r) == 1;  // the reference moves back to the caller
}

void Lane::end_close_watches() {
    std::unordered_set<Request *> watches;
    {
        std::lock_guard lock(watches_mu_);
        watches_ended_ = true;
        watches.swap(watches_);
    }
    for (Request *r : watches) {
        r->outcome = Outcome{closed_error(), {}};
        service_.post_delivery(r);  // takes the watch's reference
    }
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
    // Closing releases every handle.
    const int64_t objects = n_objects_.load(std::memory_order_relaxed);
    s.live_objects = is_closing() || objects < 0 ? 0 : static_cast<uint64_t>(objects);
    return s;
}

}  // namespace pyctx::core
