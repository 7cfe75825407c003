#include "core/engine/inproc/inproc_executor.h"

#include <Python.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/engine/context.h"
#include "core/engine/inproc/control.h"
#include "core/engine/runtime.h"
#include "core/engine/thread_name.h"
#include "core/python/buffer_py.h"
#include "core/python/host_calls.h"

#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace pyctx::core {

namespace {

uint64_t native_thread_id() {
#if defined(__linux__)
    return static_cast<uint64_t>(syscall(SYS_gettid));
#else
    return static_cast<uint64_t>(PyThread_get_thread_native_id());
#endif
}

bool is_done_or_waking(const std::atomic<uint32_t> *word) {
    uint32_t v = word->load(std::memory_order_acquire);
    return v == Request::kDone || v == Request::kWaking;
}

}  // namespace

InprocExecutor::InprocExecutor(Context &ctx) : ctx_(ctx), lane_(ctx.lane()) {
    deliveries_.reserve(64);
}

InprocExecutor::~InprocExecutor() {
    thread_.join_or_detach();  // only reached once the thread dropped its last reference
    if (event_fd_ >= 0) ::close(event_fd_);
}

const std::string &InprocExecutor::context_name() const { return ctx_.name(); }
bool InprocExecutor::is_closing() const { return lane_.is_closing(); }
bool InprocExecutor::on_own_thread() const { return Executor::current() == this; }

// ---------------------------------------------------------------------------
// start and the thread

Error InprocExecutor::start() {
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) return Error(Status::internal, "eventfd failed");
    // A view the host lets go of is released on this thread; once closing,
    // the thread waits for them on the ledger itself (see thread_main).
    ctx_.buffers()->set_waker([w = std::weak_ptr<Context>(ctx_.shared_from_this()), this] {
        if (auto alive = w.lock())
            lane_.post_control(RequestRef(new ControlRequest(ControlRequest::Op::release_views, 0)));
    });
    if (!thread_.start(&InprocExecutor::thread_main, this, ctx_.shared_from_this()))
        return Error(Status::internal, "could not start the context thread");
    const uint32_t timeout_ms = ctx_.options().create_timeout_ms;
    const int64_t deadline = timeout_ms ? now_ns() + int64_t{timeout_ms} * 1000000 : 0;
    while (started_.load(std::memory_order_acquire) == 0) {
        int64_t remaining = deadline ? deadline - now_ns() : -1;
        if (deadline && remaining <= 0) {
            // The preload runs too long: interrupt it and let the thread end
            // by itself (it holds its own reference to the context).
            lane_.begin_close();
            interrupt_preload();
            abandon();
            return Error(Status::timeout, "context '" + ctx_.name() +
                                              "' was not ready within " +
                                              std::to_string(timeout_ms) +
                                              " ms (its preload was interrupted)");
        }
        futex_wait(started_, 0, remaining);
    }
    if (started_.load() == 2) {
        thread_.wait_exited(0);
        return start_error_;
    }
    return {};
}

void InprocExecutor::thread_main(std::shared_ptr<Context> self) {
    (void)self;
    // `self` keeps the context (and this executor) alive while the thread runs.
    Executor::set_current(this);
    ContextThread::set_current(this);
    native_tid_.store(native_thread_id(), std::memory_order_relaxed);
    name_this_thread(ctx_.name().substr(0, 15).c_str());
    Error err;
    if (!setup_interpreter(&err)) {
        start_error_ = std::move(err);
        Executor::set_current(nullptr);
        ContextThread::set_current(nullptr);
        left_python_.store(1, std::memory_order_release);
        thread_.mark_exited();
        started_.store(2, std::memory_order_release);
        futex_wake_all(started_);
        return;
    }
    started_.store(1, std::memory_order_release);
    futex_wake_all(started_);

    serve(nullptr, nullptr);  // until closing
    wait_host_views(*ctx_.buffers());  // views of this interpreter's objects

    teardown_interpreter();  // releases the GIL for good
    left_python_.store(1, std::memory_order_release);
    futex_wake_all(left_python_);
    // From here on completions are delivered directly. Once closing, queued
    // requests are not run: they complete as closed, which needs no Python,
    // so a long backlog is never mistaken for stuck Python.
    Executor::set_current(nullptr);
    ContextThread::set_current(nullptr);
    flush_deliveries();
    lane_.queue().close_control();  // nothing reaches the thread any more
    lane_.complete_all_as_closed(Origin::library_thread);
    Runtime::get().remove_context(&ctx_);
    thread_.mark_exited();
    // `self` is released here; if it was the last reference the destructor
    // runs on this thread and detaches it.
}

bool InprocExecutor::wait_left_python(int64_t deadline_ns) {
    return wait_until_set(left_python_, deadline_ns);
}

bool InprocExecutor::wait_exited(int64_t deadline_ns) { return thread_.wait_exited(deadline_ns); }

void InprocExecutor::abandon() { thread_.detach(); }

// ---------------------------------------------------------------------------
// the serving loop

void InprocExecutor::serve(const std::atomic<uint32_t> *until, const Request *abort) {
    ++serve_depth_;
    serve_loop(until, abort);
    --serve_depth_;
    if (selector_depth_ == serve_depth_) rearm_selector();
}

void InprocExecutor::rearm_selector() {
    // As before the selector first blocked: announce it, then look; either
    // wake() sees 2 and writes the eventfd, or we see its work and do.
    parked_.store(2, std::memory_order_seq_cst);
    if (lane_.queue().has_work() || lane_.is_closing()) {
        uint64_t one = 1;
        ssize_t n = ::write(event_fd_, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is non-zero already
    }
}

void InprocExecutor::serve_loop(const std::atomic<uint32_t> *until, const Request *abort) {
    auto done = [&] {
        return (until && until->load(std::memory_order_acquire) == Request::kDone) ||
               (abort && abort->is_claimed());
    };
    RequestQueue &queue = lane_.queue();
    for (;;) {
        while (!lane_.is_closing()) {
            Request *r = queue.pop_to_running();
            if (!r) break;
            process(r);
            if (deliveries_.size() >= 64) flush_deliveries_with_gil();
            if (done()) return;
        }
        if (lane_.is_closing() || done()) return;

        EventLoop &loop = py_->loop();
        if (loop.has_tasks() && !loop.running()) {
            if (!deliveries_.empty()) flush_deliveries_with_gil();
            // Block in the event loop's selector; wake() writes the eventfd.
            parked_.store(2, std::memory_order_seq_cst);
            if (queue.has_work() || lane_.is_closing() || done()) {
                parked_.store(0, std::memory_order_relaxed);
                loop.drive(false);
            } else {
                const int outer = selector_depth_;
                selector_depth_ = serve_depth_;
                loop.drive(true);
                selector_depth_ = outer;
                parked_.store(0, std::memory_order_relaxed);
            }
            continue;
        }
        park_until_work(until, abort);
    }
}

void InprocExecutor::park_until_work(const std::atomic<uint32_t> *until, const Request *abort) {
    RequestQueue &queue = lane_.queue();
    PyThreadState *ts = PyEval_SaveThread();
    saved_thread_state_ = ts;
    flush_deliveries();
    // A waiter being woken (kWaking) counts as ready: it is done any moment.
    auto ready = [&] {
        return queue.has_work() || lane_.is_closing() || (until && is_done_or_waking(until)) ||
               (abort && abort->is_claimed());
    };
    // Yielding every 128 turns: an idle context's spin must not hold a CPU
    // a busy thread needs (with more threads spinning than CPUs, a request
    // alternating over two worker contexts took 70-84 us instead of 6 us).
    if (!idle_spin_.spin(ready, 128)) {
        parked_.store(1, std::memory_order_seq_cst);
        if (!ready()) futex_wait(parked_, 1);
        parked_.store(0, std::memory_order_relaxed);
        if (ready()) idle_spin_.after_park();
    }
    saved_thread_state_ = nullptr;
    PyEval_RestoreThread(ts);
}

void InprocExecutor::wake() {
    if (parked_.load(std::memory_order_seq_cst) == 0) return;
    uint32_t how = parked_.exchange(0, std::memory_order_seq_cst);
    if (how == 1) {
        futex_wake(parked_);
    } else if (how == 2) {
        uint64_t one = 1;
        ssize_t n = ::write(event_fd_, &one, sizeof one);
        (void)n;  // EAGAIN means the counter is already non-zero: woken anyway
    }
}

void InprocExecutor::process(Request *r) {
    if (r->is_control()) {
        run_control(r);
        r->release();
        return;
    }
    // pop_to_running / push_running made it the top of the running stack,
    // visible to cancel, before the phase flips.
    Request *outer = running_top_;
    running_top_ = r;
    current_id_.store(r->id, std::memory_order_relaxed);
    r->phase.store(Phase::running, std::memory_order_seq_cst);
    // Taken just after close began (its snapshot of running requests missed
    // it): never run it, complete it as closed.
    if (lane_.is_closing() && r->claim())
        lane_.finish(r, Outcome{Error(Status::closed, "context '" + ctx_.name() + "' is closed"), {}},
                     Origin::executor);
    if (!r->is_claimed()) py_->execute(r);  // else: cancelled/timed out/closed while queued
    current_id_.store(lane_.queue().end_running(r), std::memory_order_relaxed);
    running_top_ = outer;
    clear_pending_interrupt(r);
    if (r->phase.load(std::memory_order_relaxed) == Phase::running)
        r->phase.store(Phase::finished, std::memory_order_release);
    r->release();
}

void InprocExecutor::run_control(Request *r) {
    auto *c = static_cast<ControlRequest *>(r);
    switch (c->op) {
        case ControlRequest::Op::drop_env: py_->namespaces().drop(c->subject); break;
        case ControlRequest::Op::cancel_task: py_->loop().cancel_task(c->subject); break;
        case ControlRequest::Op::host_reply: resume_awaited_host_call(*py_, c->take_call()); break;
        case ControlRequest::Op::release_views: release_host_views(*ctx_.buffers()); break;
    }
}

// ---------------------------------------------------------------------------
// completion

void InprocExecutor::complete(Request *r, Outcome &&out) {
    if (r->id == current_id_.load(std::memory_order_relaxed))
        completed_id_.store(r->id, std::memory_order_relaxed);  // before the caller wakes
    const uint64_t made = out.object_id;
    // Lost the claim (cancel, deadline, close won): a handle or stream made
    // for this result would never reach the host, so it goes now.
    if (!lane_.complete(r, std::move(out), Origin::executor)) py_->drop_unclaimed(*r, made);
}

bool InprocExecutor::defer_delivery(Request *r) {
    // Only while this thread holds its GIL: delivered when it lets go.
    if (!on_own_thread() || saved_thread_state_) return false;
    r->retain();
    deliveries_.push_back(r);
    return true;
}

void InprocExecutor::flush_deliveries() {
    // Callbacks may submit new requests (never re-entering this list: the
    // GIL is released, so completions from here are delivered directly).
    std::vector<Request *> batch;
    batch.swap(deliveries_);
    for (Request *r : batch) {
        Lane::deliver(r);
        r->release();
    }
    batch.clear();
    if (deliveries_.empty()) deliveries_.swap(batch);  // keep the capacity
}

void InprocExecutor::flush_deliveries_with_gil() {
    PyThreadState *ts = PyEval_SaveThread();
    flush_deliveries();
    PyEval_RestoreThread(ts);
}

// ---------------------------------------------------------------------------
// nested requests and waits

Outcome InprocExecutor::run_nested(Request *r) {
    // Re-entrant: a host function running on this very thread (GIL
    // released) asks this context for something. Run it inline.
    auto *ts = static_cast<PyThreadState *>(saved_thread_state_);
    if (!ts) {
        return Outcome{Error(Status::invalid_argument,
                             "a synchronous request on a context's own thread is only possible "
                             "from a host function"),
                       {}};
    }
    saved_thread_state_ = nullptr;
    PyEval_RestoreThread(ts);
    r->retain();  // process() releases the running stack's reference
    lane_.queue().push_running(r);
    process(r);
    if (r->phase.load(std::memory_order_acquire) == Phase::task && !r->is_done()) {
        if (py_->loop().running()) {
            // The loop already runs below us (a coroutine made this host
            // call): it cannot be driven from here.
            if (r->claim()) {
                py_->loop().cancel_task(r->id);
                lane_.finish(r,
                             Outcome{Error(Status::unsupported,
                                           "a coroutine function called synchronously from a host "
                                           "function cannot complete while the context's event "
                                           "loop is running (a coroutine made the host call): "
                                           "await pyctx.async_call() there, or submit it "
                                           "asynchronously"),
                                     {}},
                             Origin::executor);
            }
        } else {
            // Drive the loop (and serve the queue) until the coroutine ends.
            serve(&r->done, nullptr);
        }
    }
    if (!r->is_done() && r->claim())  // the context closed meanwhile
        lane_.finish(r, Outcome{Error(Status::closed, "context '" + ctx_.name() + "' is closed"), {}},
                     Origin::executor);
    ts = PyEval_SaveThread();
    saved_thread_state_ = ts;
    return std::move(r->outcome);
}

bool InprocExecutor::serve_until_done(Request *r) {
    auto *ts = static_cast<PyThreadState *>(saved_thread_state_);
    if (!ts) return false;  // not inside a host function: the caller parks
    r->serving_waiter = this;
    uint32_t v = Request::kPending;
    if (!r->done.compare_exchange_strong(v, Request::kServingWaiter, std::memory_order_acq_rel))
        return v == Request::kDone;
    saved_thread_state_ = nullptr;
    PyEval_RestoreThread(ts);
    serve(&r->done, nullptr);
    ts = PyEval_SaveThread();
    saved_thread_state_ = ts;
    if (r->is_done()) return true;
    // This context is closing: stop serving and let the caller park.
    v = Request::kServingWaiter;
    if (!r->done.compare_exchange_strong(v, Request::kPending, std::memory_order_acq_rel)) {
        while (!r->is_done()) cpu_relax();  // the deliverer is finishing its wake-up
        return true;
    }
    return false;
}

void InprocExecutor::invoke_host(HostCall *call) {
    std::shared_ptr<HostFunction> fn = std::move(call->function);
    PyThreadState *ts = PyEval_SaveThread();
    saved_thread_state_ = ts;
    fn->invoke(call);
    saved_thread_state_ = nullptr;
    fn.reset();  // may run the finalizer of an unregistered function
    PyEval_RestoreThread(ts);
}

void InprocExecutor::wait_host_answer(HostCall *call, const Request *waiting) {
    serve(&call->answered, waiting);
}

std::shared_ptr<HostCallWaiter> InprocExecutor::host_call_waiter() {
    // Aliasing: the waiter keeps the whole context alive.
    return std::shared_ptr<HostCallWaiter>(ctx_.shared_from_this(), this);
}

bool InprocExecutor::post_host_reply(HostCall *call) {
    return lane_.post_control(
        RequestRef(new ControlRequest(ControlRequest::Op::host_reply, 0, call)));
}

void InprocExecutor::release_env(uint64_t env_id) {
    lane_.post_control(RequestRef(new ControlRequest(ControlRequest::Op::drop_env, env_id)));
}

const std::shared_ptr<BufferLedger> &InprocExecutor::buffer_ledger() { return ctx_.buffers(); }

void InprocExecutor::add_task(Request *r) { lane_.queue().add_task(r); }
Request *InprocExecutor::take_task(uint64_t id) { return lane_.queue().take_task(id); }

}  // namespace pyctx::core
