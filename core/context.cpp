#include "core/context.h"

#include <Python.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "core/host.h"
#include "core/py_state.h"
#include "core/runtime.h"

#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace pyctx::core {

namespace {
thread_local Context *tls_current = nullptr;
std::atomic<uint64_t> g_context_counter{0};

uint64_t native_thread_id() {
#if defined(__linux__)
    return static_cast<uint64_t>(syscall(SYS_gettid));
#else
    return static_cast<uint64_t>(PyThread_get_thread_native_id());
#endif
}

Error closed_error(const std::string &name) {
    return Error(Status::closed, "context '" + name + "' is closed");
}
}  // namespace

Context *Context::current() { return tls_current; }

Context::Context(ContextOptions options) : options_(std::move(options)) {
    running_.reserve(16);
    deliveries_.reserve(64);
}

Context::~Context() {
    if (thread_.joinable()) {
        if (thread_.get_id() == std::this_thread::get_id()) {
            thread_.detach();
        } else {
            thread_.join();  // only reached once the thread dropped its last reference
        }
    }
    if (event_fd_ >= 0) ::close(event_fd_);
}

// ---------------------------------------------------------------------------
// creation and the thread

Error Context::create(ContextOptions options, std::shared_ptr<Context> *out) {
    Runtime &rt = Runtime::get();
    if (!rt.running()) return Error(Status::not_running, "the runtime is not running");
    if (options.mode == Mode::owngil && !Runtime::owngil_supported()) {
        return Error(Status::unsupported, std::string("owngil contexts need Python 3.12+, this is ") +
                                              rt.python_version());
    }
    uint64_t n = g_context_counter.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options.name.empty()) options.name = "pyctx-" + std::to_string(n);

    std::shared_ptr<Context> ctx(new Context(std::move(options)));
    ctx->event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ctx->event_fd_ < 0) return Error(Status::internal, "eventfd failed");
    if (Error e = rt.add_context(ctx); !e.ok()) return e;

    try {
        ctx->thread_ = std::thread(&Context::thread_main, ctx.get(), ctx);
    } catch (const std::system_error &) {
        rt.remove_context(ctx.get());
        return Error(Status::internal, "could not start the context thread");
    }
    while (ctx->started_.load(std::memory_order_acquire) == 0) futex_wait(ctx->started_, 0);
    if (ctx->started_.load() == 2) {
        ctx->thread_.join();
        rt.remove_context(ctx.get());
        return ctx->start_error_;
    }
    *out = std::move(ctx);
    return {};
}

void Context::thread_main(std::shared_ptr<Context> self) {
    // `self` keeps this object alive for as long as the thread runs.
    (void)self;
    tls_current = this;
    native_tid_.store(native_thread_id(), std::memory_order_relaxed);
    name_this_thread(options_.name.substr(0, 15).c_str());
    Error err;
    if (!setup_interpreter(&err)) {
        start_error_ = std::move(err);
        started_.store(2, std::memory_order_release);
        futex_wake_all(started_);
        exited_.store(1, std::memory_order_release);
        futex_wake_all(exited_);
        tls_current = nullptr;
        return;
    }
    started_.store(1, std::memory_order_release);
    futex_wake_all(started_);

    serve(nullptr);  // until closing

    drain_closed(true);
    teardown_interpreter();  // releases the GIL for good
    tls_current = nullptr;   // from here on completions are delivered directly
    flush_deliveries();
    {
        // Nothing can enter the queue any more; drop internal leftovers.
        std::lock_guard lock(qlock_);
        internal_open_ = false;
    }
    drain_closed(true);
    Runtime::get().remove_context(this);
    tls_current = nullptr;
    exited_.store(1, std::memory_order_release);
    futex_wake_all(exited_);
    // `self` is released here; if it was the last reference the destructor
    // runs on this thread and detaches it.
}

bool Context::setup_interpreter(Error *err) {
    Runtime &rt = Runtime::get();
    auto *main = static_cast<PyInterpreterState *>(rt.main_interpreter());
    PyThreadState *ts = nullptr;
    if (options_.mode == Mode::worker) {
        ts = PyThreadState_New(main);
        PyEval_RestoreThread(ts);
    } else {
#if PY_VERSION_HEX >= 0x030C0000
        std::unique_lock sub(rt.subinterpreter_mu);
        PyThreadState *main_ts = PyThreadState_New(main);
        PyEval_RestoreThread(main_ts);
        PyInterpreterConfig cfg;
        std::memset(&cfg, 0, sizeof cfg);
        cfg.use_main_obmalloc = 0;
        cfg.allow_fork = 0;
        cfg.allow_exec = 0;
        cfg.allow_threads = 1;
        cfg.allow_daemon_threads = 0;
        cfg.check_multi_interp_extensions = 1;
        cfg.gil = PyInterpreterConfig_OWN_GIL;
        PyStatus st = Py_NewInterpreterFromConfig(&ts, &cfg);
        if (PyStatus_Exception(st)) {
            // The main thread state is current again, with the main GIL.
            PyThreadState_Clear(main_ts);
            PyThreadState_DeleteCurrent();
            *err = Error(Status::internal, std::string("could not create a subinterpreter: ") +
                                               (st.err_msg ? st.err_msg : "unknown error"));
            return false;
        }
        // The main GIL was released by Py_NewInterpreterFromConfig; the main
        // thread state stays bound to this thread until teardown.
        main_thread_state_ = main_ts;
#else
        *err = Error(Status::unsupported, "owngil contexts need Python 3.12+");
        return false;
#endif
    }
    {
        std::lock_guard lock(interp_mu_);
        interp_ = PyThreadState_GetInterpreter(ts);
        py_thread_ident_ = PyThread_get_thread_ident();
        interp_alive_ = true;
    }
    py_ = std::make_unique<PyState>(*this);
    if (!py_->init(options_.preload, err)) {
        teardown_interpreter();
        return false;
    }
    return true;
}

void Context::teardown_interpreter() {
    // GIL held on entry.
    if (py_) {
        py_->clear();
        py_.reset();
    }
    PyThreadState *ts = PyEval_SaveThread();
    {
        // Interrupters hold interp_mu_ while they use this interpreter.
        std::lock_guard lock(interp_mu_);
        interp_alive_ = false;
    }
    if (options_.mode == Mode::worker) {
        PyEval_RestoreThread(ts);
        PyThreadState_Clear(ts);
        PyThreadState_DeleteCurrent();
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    std::lock_guard sub(Runtime::get().subinterpreter_mu);
    PyEval_RestoreThread(ts);
    Py_EndInterpreter(ts);
    auto *main_ts = static_cast<PyThreadState *>(main_thread_state_);
    PyEval_RestoreThread(main_ts);
    PyThreadState_Clear(main_ts);
    PyThreadState_DeleteCurrent();
    main_thread_state_ = nullptr;
#endif
}

// ---------------------------------------------------------------------------
// the serving loop

void Context::serve(const std::atomic<uint32_t> *until, const Request *abort) {
    auto done = [&] {
        return (until && until->load(std::memory_order_acquire) != 0) ||
               (abort && abort->is_claimed());
    };
    for (;;) {
        // Once closing, queued requests are not run: drain_closed() completes
        // them as closed.
        while (!closing_.load(std::memory_order_acquire)) {
            Request *r = pop();
            if (!r) break;
            process(r);
            if (deliveries_.size() >= 64) {
                PyThreadState *ts = PyEval_SaveThread();
                flush_deliveries();
                PyEval_RestoreThread(ts);
            }
            if (done()) return;
        }
        if (closing_.load(std::memory_order_acquire) || done()) return;

        if (py_->has_tasks() && !py_->loop_running()) {
            if (!deliveries_.empty()) {
                PyThreadState *ts = PyEval_SaveThread();
                flush_deliveries();
                PyEval_RestoreThread(ts);
            }
            // Block in the event loop's selector; wake() writes the eventfd.
            parked_.store(2, std::memory_order_seq_cst);
            if (has_work() || closing_.load(std::memory_order_seq_cst) || done()) {
                parked_.store(0, std::memory_order_relaxed);
                py_->drive_loop(false);
            } else {
                py_->drive_loop(true);
                parked_.store(0, std::memory_order_relaxed);
            }
            continue;
        }

        PyThreadState *ts = PyEval_SaveThread();
        saved_thread_state = ts;
        flush_deliveries();
        auto ready = [&] {
            return has_work() || closing_.load(std::memory_order_acquire) || done();
        };
        if (!idle_spin_.spin(ready)) {
            parked_.store(1, std::memory_order_seq_cst);
            if (!(has_work() || closing_.load(std::memory_order_seq_cst) || done())) {
                futex_wait(parked_, 1);
            }
            parked_.store(0, std::memory_order_relaxed);
        }
        saved_thread_state = nullptr;
        PyEval_RestoreThread(ts);
    }
}

void Context::wake() {
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

Request *Context::pop() {
    if (!has_work()) return nullptr;
    std::lock_guard lock(qlock_);
    Request *r = head_;
    if (!r) return nullptr;
    head_ = r->next;
    if (!head_) tail_ = nullptr;
    r->next = nullptr;
    depth_.fetch_sub(1, std::memory_order_relaxed);
    return r;
}

void Context::process(Request *r) {
    if (r->is_internal()) {
        py_->execute(r);
        r->release();
        return;
    }
    // Visible as running before the phase flips, so that whoever claims it
    // after seeing Phase::running finds it to interrupt.
    {
        std::lock_guard lock(qlock_);
        running_.push_back(r);
    }
    current_id_.store(r->id, std::memory_order_relaxed);
    r->phase.store(Phase::running, std::memory_order_seq_cst);
    if (!r->is_claimed()) py_->execute(r);  // else: cancelled/timed out/closed while queued
    {
        std::lock_guard lock(qlock_);
        running_.pop_back();
        current_id_.store(running_.empty() ? 0 : running_.back()->id, std::memory_order_relaxed);
    }
    clear_pending_interrupt(r);
    if (r->phase.load(std::memory_order_relaxed) == Phase::running)
        r->phase.store(Phase::finished, std::memory_order_release);
    r->release();
}

// ---------------------------------------------------------------------------
// submission

Error Context::submit(RequestRef request) {
    Request *r = request.get();
    // Read before the request becomes visible: the thread may complete and
    // free it the moment it is queued.
    const bool watch_deadline = r->deadline_ns && !r->is_sync();
    if (closing_.load(std::memory_order_acquire)) return closed_error(options_.name);
    {
        std::lock_guard lock(qlock_);
        if (closing_.load(std::memory_order_relaxed)) return closed_error(options_.name);
        if (options_.queue_capacity && depth_.load(std::memory_order_relaxed) >= options_.queue_capacity) {
            return Error(Status::queue_full, "context '" + options_.name + "' queue is full (" +
                                                 std::to_string(options_.queue_capacity) + ")");
        }
        // The deadline watcher's reference must exist before the request is
        // visible to the thread, which may complete and release it at once.
        if (watch_deadline) r->retain();
        if (tail_) {
            tail_->next = r;
        } else {
            head_ = r;
        }
        tail_ = r;
        depth_.fetch_add(1, std::memory_order_seq_cst);
    }
    request.detach();  // the queue's reference now
    if (watch_deadline) Runtime::get().watch_deadline(r, shared_from_this());
    wake();
    return {};
}

bool Context::post_internal(RequestRef request) {
    Request *r = request.get();
    {
        std::lock_guard lock(qlock_);
        if (!internal_open_) return false;
        if (tail_) {
            tail_->next = r;
        } else {
            head_ = r;
        }
        tail_ = r;
        depth_.fetch_add(1, std::memory_order_seq_cst);
    }
    request.detach();
    wake();
    return true;
}

Outcome Context::run_sync(RequestRef request) {
    Request *r = request.get();
    if (tls_current == this) {
        // Re-entrant: a host function running on this very thread (GIL
        // released) asks this context for something. Run it inline.
        if (closing_.load(std::memory_order_acquire))
            return Outcome{closed_error(options_.name), {}};
        auto *ts = static_cast<PyThreadState *>(saved_thread_state);
        if (!ts) {
            return Outcome{Error(Status::invalid_argument,
                                 "a synchronous request on a context's own thread is only "
                                 "possible from a host function"),
                           {}};
        }
        saved_thread_state = nullptr;
        PyEval_RestoreThread(ts);
        r->retain();  // process() releases the queue's reference
        process(r);
        PyThreadState *again = PyEval_SaveThread();
        saved_thread_state = again;
        return std::move(r->outcome);
    }

    r->retain();  // one for the queue (dropped by submit on failure), one kept here
    if (Error e = submit(RequestRef(r)); !e.ok()) return Outcome{std::move(e), {}};
    static thread_local AdaptiveSpin caller_spin(2048);
    auto is_done = [r] { return r->done.load(std::memory_order_acquire) == 1; };
    if (!caller_spin.spin(is_done)) {
        int64_t deadline = r->deadline_ns;
        for (;;) {
            uint32_t v = 0;
            if (!r->done.compare_exchange_strong(v, 2, std::memory_order_acq_rel) && v == 1) break;
            int64_t remaining = -1;
            if (deadline) {
                remaining = deadline - now_ns();
                if (remaining <= 0) {
                    if (r->claim()) {
                        stop_claimed(r);
                        count(Error(Status::timeout, ""));
                        return Outcome{Error(Status::timeout, "the request timed out"), {}};
                    }
                    deadline = 0;  // someone else completes it: wait for that
                    continue;
                }
            }
            futex_wait(r->done, 2, remaining);
            if (r->done.load(std::memory_order_acquire) == 1) break;
        }
    }
    return std::move(r->outcome);
}

// ---------------------------------------------------------------------------
// completion

void Context::clear_pending_interrupt(Request *r) {
    if (r->interrupt_posted.exchange(0, std::memory_order_acq_rel)) {
        // An interrupt aimed at this request may not have fired yet: make
        // sure it cannot hit another one.
        PyThreadState_SetAsyncExc(py_thread_ident_, nullptr);
        PyErr_Clear();
    }
}

void Context::count(const Error &e) {
    switch (e.status) {
        case Status::ok: n_completed_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::cancelled: n_cancelled_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::timeout: n_timed_out_.fetch_add(1, std::memory_order_relaxed); break;
        case Status::closed: n_closed_.fetch_add(1, std::memory_order_relaxed); break;
        default: n_failed_.fetch_add(1, std::memory_order_relaxed); break;
    }
}

void Context::finish(Request *r, Outcome outcome, bool on_library_thread) {
    count(outcome.error);
    r->outcome = std::move(outcome);
    if (r->is_sync()) {
        deliver(r);
    } else if (tls_current == this && saved_thread_state == nullptr && !has_exited()) {
        defer_delivery(r);  // this thread holds the GIL: deliver once released
    } else if (on_library_thread) {
        deliver(r);
    } else {
        r->retain();
        Runtime::get().post_delivery(r);
    }
}

void Context::deliver(Request *r) {
    if (r->is_sync()) {
        if (r->done.exchange(1, std::memory_order_acq_rel) == 2) futex_wake(r->done);
    } else {
        r->sink(r, r->sink_data);
    }
}

void Context::defer_delivery(Request *r) {
    r->retain();
    deliveries_.push_back(r);
}

void Context::flush_deliveries() {
    // Callbacks may submit new requests (never re-entering this list: the
    // GIL is released, so finish() from here delivers directly).
    std::vector<Request *> batch;
    batch.swap(deliveries_);
    for (Request *r : batch) {
        deliver(r);
        r->release();
    }
    batch.clear();
    if (deliveries_.empty()) deliveries_.swap(batch);  // keep the capacity
}

// ---------------------------------------------------------------------------
// cancel, interrupt, tasks

void Context::add_task(Request *r) {
    r->retain();
    std::lock_guard lock(qlock_);
    tasks_.emplace(r->id, r);
}

Request *Context::take_task(uint64_t id) {
    std::lock_guard lock(qlock_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return nullptr;
    Request *r = it->second;
    tasks_.erase(it);
    return r;
}

Error Context::cancel(uint64_t id) {
    Request *found = nullptr;
    {
        std::lock_guard lock(qlock_);
        for (Request *r = head_; r && !found; r = r->next)
            if (r->id == id && !r->is_internal()) found = r;
        for (size_t i = 0; i < running_.size() && !found; ++i)
            if (running_[i]->id == id) found = running_[i];
        if (!found) {
            auto it = tasks_.find(id);
            if (it != tasks_.end()) found = it->second;
        }
        if (found) found->retain();
    }
    if (!found) return Error(Status::not_found, "no pending request " + std::to_string(id));
    RequestRef hold(found);
    if (!found->claim())
        return Error(Status::not_found, "request " + std::to_string(id) + " already completed");
    stop_claimed(found);
    finish(found, Outcome{Error(Status::cancelled, "the request was cancelled"), {}}, false);
    return {};
}

void Context::stop_claimed(Request *r) {
    switch (r->phase.load(std::memory_order_seq_cst)) {
        case Phase::running:
            interrupt(r);
            wake();  // in case it waits for a host answer: that wait ends now
            break;
        case Phase::task: {
            // The task lives on the event loop: cancel it on the context thread.
            auto *msg = new Request();
            msg->kind = RequestKind::cancel_task;
            msg->env_id = r->id;
            post_internal(RequestRef(msg));
            break;
        }
        default: break;  // queued: the thread skips it; finished: nothing to stop
    }
}

void run_interrupt(std::shared_ptr<Context> ctx, uint64_t request_id) {
    name_this_thread("pyctx-interrupt");
    std::lock_guard lock(ctx->interp_mu_);
    if (!ctx->interp_alive_) return;
    PyThreadState *ts = PyThreadState_New(static_cast<PyInterpreterState *>(ctx->interp_));
    PyEval_RestoreThread(ts);
    // Under this GIL the context thread cannot change its current request.
    if (ctx->current_id_.load(std::memory_order_relaxed) == request_id) {
        Request *target = nullptr;
        {
            std::lock_guard q(ctx->qlock_);
            if (!ctx->running_.empty() && ctx->running_.back()->id == request_id &&
                !ctx->running_.back()->host_waiting.load(std::memory_order_acquire))
                target = ctx->running_.back();
            if (target) target->interrupt_posted.store(1, std::memory_order_release);
        }
        if (target) PyThreadState_SetAsyncExc(ctx->py_thread_ident_, PyExc_KeyboardInterrupt);
    }
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

void Context::interrupt(Request *r) {
    // Getting this interpreter's GIL can take as long as the running code
    // holds it, so it happens on a thread of its own, never the caller's.
    try {
        std::thread(run_interrupt, shared_from_this(), r->id).detach();
    } catch (const std::system_error &) {
        // No thread: the request still completes; it just runs to its end.
    }
}

// ---------------------------------------------------------------------------
// closing

void Context::drain_closed(bool on_library_thread) {
    std::vector<Request *> drained;
    {
        std::lock_guard lock(qlock_);
        for (Request *r = head_; r;) {
            Request *next = r->next;
            r->next = nullptr;
            drained.push_back(r);
            r = next;
        }
        head_ = tail_ = nullptr;
        depth_.store(0, std::memory_order_relaxed);
        for (auto &[id, r] : tasks_) {
            r->retain();
            drained.push_back(r);
        }
    }
    for (Request *r : drained) {
        if (r->is_internal()) {
            if (r->kind == RequestKind::host_reply) host_reply_discard(r);
        } else if (r->claim()) {
            finish(r, Outcome{closed_error(options_.name), {}}, on_library_thread);
        }
        r->release();
    }
}

void Context::begin_close() {
    if (closing_.exchange(true, std::memory_order_acq_rel)) return;
    std::vector<Request *> running;
    {
        std::lock_guard lock(qlock_);
        for (Request *r : running_) {
            r->retain();
            running.push_back(r);
        }
    }
    for (Request *r : running) {
        if (r->claim()) {
            if (r == running.back()) interrupt(r);
            finish(r, Outcome{closed_error(options_.name), {}}, false);
        }
        r->release();
    }
    wake();
}

Error Context::close(uint32_t timeout_ms) {
    if (tls_current == this) {
        return Error(Status::invalid_argument,
                     "a context cannot be closed from its own thread; use pyctx_context_free");
    }
    begin_close();
    int64_t deadline = now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
    while (exited_.load(std::memory_order_acquire) == 0) {
        int64_t remaining = deadline - now_ns();
        if (remaining <= 0) break;
        futex_wait(exited_, 0, remaining);
    }
    std::lock_guard lock(close_mu_);
    if (exited_.load(std::memory_order_acquire)) {
        if (thread_.joinable()) thread_.join();
        return {};
    }
    // Python did not return: complete everything still queued from here and
    // leave the thread (which owns a reference to us) to finish on its own.
    drain_closed(false);
    if (thread_.joinable()) thread_.detach();
    return Error(Status::stuck, "context '" + options_.name + "' did not stop within " +
                                    std::to_string(timeout_ms) +
                                    " ms: Python is still running there; its thread and memory "
                                    "stay pinned until it returns");
}

ContextStats Context::stats() const {
    ContextStats s;
    s.completed = n_completed_.load(std::memory_order_relaxed);
    s.failed = n_failed_.load(std::memory_order_relaxed);
    s.cancelled = n_cancelled_.load(std::memory_order_relaxed);
    s.timed_out = n_timed_out_.load(std::memory_order_relaxed);
    s.closed = n_closed_.load(std::memory_order_relaxed);
    s.queue_depth = depth_.load(std::memory_order_relaxed);
    s.thread_id = native_tid_.load(std::memory_order_relaxed);
    return s;
}

}  // namespace pyctx::core
