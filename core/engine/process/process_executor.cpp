#include "core/engine/process/process_executor.h"

#include <signal.h>

#include <cstring>

#include "core/engine/context.h"
#include "core/engine/process/process_control.h"
#include "core/engine/process/spawn.h"
#include "core/engine/process/wire.h"
#include "core/engine/runtime.h"
#include "core/engine/thread_name.h"
#include "core/host/log_sink.h"

namespace pyctx::core {

namespace {

constexpr uint64_t kRingBytes = uint64_t{1} << 22;  // 4 MiB each way, touched lazily

}  // namespace

ProcessExecutor::ProcessExecutor(Context &ctx) : ctx_(ctx), lane_(ctx.lane()) {}

ProcessExecutor::~ProcessExecutor() {
    // Reached once the io thread let go of its reference (or never ran).
    io_.join_or_detach();
    for (std::thread &t : host_threads_) join_or_detach(t);
    child_.reset();
}

bool ProcessExecutor::on_own_thread() const { return Executor::current() == this; }

Error ProcessExecutor::start() {
    if (Error e = find_process_helper(ctx_.options().process_helper, &helper_); !e.ok()) return e;
    if (Error e = seg_.create(kRingBytes); !e.ok()) return e;
    seg_ready_.store(true, std::memory_order_release);
    inflight_.reserve(2048);  // a pipelined window grows it without rehashing
    std::unique_ptr<ChildProcess> c;
    if (Error e = spawn(&c); !e.ok()) return e;
    pid_.store(static_cast<uint64_t>(c->pid), std::memory_order_relaxed);
    {
        SendLock lock(*this);
        child_wake_fd_ = c->wake_fd;
        child_results_fd_ = c->results ? c->results->fd() : -1;
        setup_sent_ = c->setup_gen;
        child_alive_ = true;
    }
    {
        std::lock_guard lock(child_mu_);
        child_ = std::move(c);
    }
    if (!io_.start(&ProcessExecutor::io_main, this, ctx_.shared_from_this()))
        return Error(Status::internal, "could not start the io thread of a process context");
    return {};
}

void ProcessExecutor::stop_claimed(Request *r) {
    if (r->phase.load(std::memory_order_seq_cst) == Phase::queued) return;  // never sent
    if (!seg_ready_.load(std::memory_order_acquire)) return;
    // A caller parked on the request's completion slot looks again, sees
    // it claimed, and takes the lane's wait.
    nudge_waiter(r->id);
    // The child learns in order through the ring; the pump interrupts
    // the request too if it is running, but only once that stop (and every
    // one before it) is in the ring: a signal sent from here could unwind the
    // running request before the child has read an earlier stop, and the
    // child would then run a request already cancelled.
    lane_.post_control(RequestRef(new ProcessControl(ProcessControl::Op::stop, r->id)));
}

void ProcessExecutor::interrupt_if_running(uint64_t id) {
    // The child's SIGINT handler raises KeyboardInterrupt in the request if
    // it is still the one running (a blocking sleep or read too). A
    // read-modify-write, paired with the exchange in ChildServer::run_one:
    // either this one comes first and the child then reads the stop from the
    // ring before it runs the request, or it sees the request running.
    SegmentHeader &h = seg_.header();
    if (h.child_running.fetch_add(0, std::memory_order_acq_rel) != id) return;
    h.interrupt_target.store(id, std::memory_order_seq_cst);
    std::lock_guard lock(child_mu_);
    if (child_) child_->signal(SIGINT);
}

Outcome ProcessExecutor::run_nested(Request *r) {
    if (on_io_thread()) {
        return Outcome{Error(Status::invalid_argument,
                             "a synchronous request from a completion callback of a process "
                             "context to that same context would wait for itself: submit it "
                             "asynchronously"),
                       {}};
    }
    // The host-call thread: a host function calling back into its context.
    // The child serves its ring while it waits for this host call's answer.
    r->retain();
    if (Error e = lane_.submit(RequestRef(r), false); !e.ok()) return Outcome{std::move(e), {}};
    lane_.wait(r, r->deadline_ns);
    return std::move(r->outcome);
}

void ProcessExecutor::release_env(uint64_t env_id) {
    lane_.post_control(RequestRef(new ProcessControl(ProcessControl::Op::drop_env, env_id)));
}

bool ProcessExecutor::wait_exited(int64_t deadline_ns) { return io_.wait_exited(deadline_ns); }

void ProcessExecutor::abandon() { io_.detach(); }

// ---------------------------------------------------------------------------
// the io thread

void ProcessExecutor::io_main(std::shared_ptr<Context> self) {
    (void)self;  // keeps the context (and this executor) alive while it runs
    Executor::set_current(this);
    tls_on_io_ = true;
    name_this_thread("pyctx-proc-io");
    SegmentHeader &h = seg_.header();
    for (;;) {
        bool progress = drain();
        progress |= take_answers();
        // Submitters pump for themselves; the io thread only when one asked
        // (it could not: closing, no room, a child starting), for close,
        // and for the outbox.
        if (pump_wanted_.exchange(false, std::memory_order_acq_rel) ||
            outbox_pending_.load(std::memory_order_acquire) || (lane_.is_closing() && !close_sent_))
            progress |= pump();
        if (child_->exited.load(std::memory_order_acquire)) {
            drain();  // what it wrote before it ended
            if (!lane_.is_closing() || !close_sent_) {
                if (child_died()) continue;
            }
            break;
        }
        if (progress) continue;
        if (close_sent_) escalate_unwatched_close();
        auto ready = [&] {
            return seg_.to_host().has_data() || answers_pending_.load(std::memory_order_acquire) ||
                   child_->exited.load(std::memory_order_acquire) ||
                   pump_wanted_.load(std::memory_order_acquire) ||
                   (outbox_pending_.load(std::memory_order_acquire)
                        ? seg_.to_child().drained()
                        : (lane_.is_closing() && !close_sent_));
        };
        // While closing, parked with a timeout: a close nobody waits for
        // (a freed handle) still escalates.
        if (!spin_.spin(ready, kSpinYieldEvery)) park_on_bell(h.host_bell, ready, close_sent_ ? 100000000 : -1);
    }
    finish_io();
}

void ProcessExecutor::escalate_unwatched_close() {
    // Context::close escalates within its own timeout; this is the bound
    // for a context closed without waiting (pyctx_context_free).
    constexpr int64_t kTerm = 5'000'000'000, kKill = 10'000'000'000;
    int64_t now = now_ns();
    if (!close_sent_at_) close_sent_at_ = now;
    int64_t waited = now - close_sent_at_;
    if (waited > kKill) {
        child_->signal(SIGKILL);
    } else if (waited > kTerm) {
        child_->signal(SIGTERM);
    }
}

bool ProcessExecutor::drain() {
    bool any = false;
    for (;;) {
        // Completions in batches: one turn of the send lock per batch, not
        // per completion, against the submitting threads.
        arrived_.clear();
        while (arrived_.size() < 64 && seg_.to_host().read(inbox_)) {
            if (!any) (void)sends_.load(std::memory_order_acquire);  // see sends_
            any = true;
            wire::Reader rd(inbox_.data(), inbox_.size());
            if (static_cast<wire::ToHost>(rd.u8()) != wire::ToHost::complete) {
                handle(inbox_);
                continue;
            }
            Arrived &a = arrived_.emplace_back();
            a.ok = wire::decode_completion(rd, &a.id, &a.out, &a.block, &a.has_block);
        }
        if (arrived_.empty()) break;
        {
            std::lock_guard lock(send_mu_);  // the look at the queue follows
            for (Arrived &a : arrived_) {
                Inflight e;
                if (!inflight_.erase(a.id, &e)) continue;  // not ours (protocol error): ignored
                a.r = e.r;
                // Its slot, if it had one, was left (ringed or abandoned).
                if (e.slot >= 0) free_slot_locked(e.slot);
                if (a.ok && a.has_block) map_result_locked(a.block, &a.out);
            }
        }
        // A submitter that found the lock taken left its request to us.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (lane_.queue().has_work()) pump_wanted_.store(true, std::memory_order_relaxed);
        for (Arrived &a : arrived_) {
            Request *r = a.r;
            if (!r) continue;
            forget_sent(r);
            if (!a.ok) a.out = Outcome{Error(Status::internal, "unreadable completion from the child"), {}};
            complete_from_child(r, std::move(a.out));
            r->release();
        }
    }
    // (A child waiting for room here spins and yields: no bell to ring.)
    return any;
}

void ProcessExecutor::handle(const ByteBuffer &msg) {
    // Everything but completions (drain() takes those).
    wire::Reader rd(msg.data(), msg.size());
    auto kind = static_cast<wire::ToHost>(rd.u8());
    if (kind == wire::ToHost::host_call) {
        uint64_t call_id = rd.u64();
        std::string_view name = rd.str();
        std::string_view args = rd.str();
        if (rd.ok()) start_host_call(call_id, name, args);
    } else if (kind == wire::ToHost::log_record) {
        LogRecord rec;
        rec.level = static_cast<int>(rd.u32());
        rec.logger = rd.str();
        rec.message = rd.str();
        rec.exception = rd.str();
        const uint64_t bits = rd.u64();
        std::memcpy(&rec.created, &bits, sizeof bits);
        // From the context's own thread, or a Python thread of the child's.
        if (rd.u8() == 1) rec.context_name = ctx_.name();
        if (rd.ok() && log_sink().wants(rec.level)) log_sink().push(std::move(rec));
    } else if (kind == wire::ToHost::buffer_done) {
        uint64_t id = rd.u64();
        uint32_t index = rd.u32();
        if (rd.ok()) buffer_done(id, index);
    } else {
        // A child that speaks nonsense cannot be trusted with more work.
        std::lock_guard lock(child_mu_);
        if (child_) child_->signal(SIGKILL);
    }
}

bool ProcessExecutor::may_restart() {
    const ContextOptions &o = ctx_.options();
    if (o.restart_max == 0) return false;
    int64_t now = now_ns();
    if (o.restart_window_ms) {
        int64_t since = now - int64_t{o.restart_window_ms} * 1000000;
        while (!restart_times_.empty() && restart_times_.front() < since) restart_times_.pop_front();
    }
    if (restart_times_.size() >= o.restart_max) return false;
    restart_times_.push_back(now);
    return true;
}

bool ProcessExecutor::child_died() {
    std::string how;
    pid_t pid;
    {
        std::lock_guard lock(child_->mu);
        how = child_->how_it_ended;
        pid = child_->pid;
    }
    std::string msg = "process context '" + ctx_.name() + "': its child process (pid " +
                      std::to_string(pid) + ") " + how;
    if (uint64_t cap = ctx_.options().memory_limit)
        msg += " (its memory cap is " + std::to_string(cap) + " bytes of address space)";
    std::vector<Request *> held;
    {
        // No submitter writes to the dead child's ring from here on; what
        // it held crashes with it (its callers' slots are given up).
        SendLock lock(*this);
        child_alive_ = false;
        child_results_fd_ = -1;  // its arena closes with it; mappings stay
        outbox_.clear();
        outbox_pending_.store(false, std::memory_order_relaxed);
        interrupts_after_send_.clear();
        take_inflight_locked(held);
    }
    {
        std::lock_guard lock(host_mu_);
        answers_.clear();  // answers to the dead child's host calls are dropped
        answers_pending_.store(false, std::memory_order_relaxed);
    }
    const bool closing = lane_.is_closing();
    bool restart = !closing && may_restart();
    if (!closing && !restart && ctx_.options().restart_max)
        msg += "; its restart budget is spent, so the context is closed";
    // What the child held crashes with it. Without a restart the context
    // closes first, so whoever sees a crashed outcome then sees it closed.
    for (Request *r : held) forget_sent(r);
    if (!restart && !closing) close_after_crash(msg);
    for (Request *r : held) {
        r->phase.store(Phase::finished, std::memory_order_release);
        lane_.complete(r, Outcome{Error(Status::crashed, msg), {}}, Origin::library_thread);
        r->release();
    }
    lane_.objects_lost();  // they lived in the child
    child_let_go_of_buffers();
    if (!restart) return false;
    {
        SendLock lock(*this);
        seg_.reset();
        close_sent_ = false;
    }
    std::unique_ptr<ChildProcess> next;
    Error spawn_error = spawn(&next);
    if (!spawn_error.ok()) {
        close_after_crash(msg + "; restarting it failed: " + spawn_error.message);
        return false;
    }
    std::unique_ptr<ChildProcess> old;
    {
        std::lock_guard lock(child_mu_);
        old = std::move(child_);
        child_ = std::move(next);
    }
    pid_.store(static_cast<uint64_t>(child_->pid), std::memory_order_relaxed);
    restarts_.fetch_add(1, std::memory_order_relaxed);
    close_sent_at_ = 0;
    {
        SendLock lock(*this);
        env_floor_ = ctx_.new_env_id();  // envs of the dead child fail as closed
        {
            std::lock_guard streams(streams_mu_);
            child_streams_.clear();  // and so do its streams
        }
        child_wake_fd_ = child_->wake_fd;
        child_results_fd_ = child_->results ? child_->results->fd() : -1;
        setup_sent_ = child_->setup_gen;
        child_alive_ = true;
    }
    pump_wanted_.store(true, std::memory_order_relaxed);  // what waited for it
    return true;
}

void ProcessExecutor::close_after_crash(const std::string &msg) {
    // Later submissions see closed; what waits in the queue crashed with it.
    pid_.store(0, std::memory_order_relaxed);
    lane_.begin_close();
    std::vector<Request *> queued, tasks;
    lane_.queue().take_all(queued, tasks);
    for (auto *list : {&queued, &tasks}) {
        for (Request *r : *list) {
            if (!r->is_control())
                lane_.complete(r, Outcome{Error(Status::crashed, msg), {}}, Origin::library_thread);
            r->release();
        }
    }
}

void ProcessExecutor::finish_io() {
    // The last child is gone (or going: killed and reaped below).
    {
        std::lock_guard lock(child_mu_);
        if (child_) child_->signal(SIGKILL);
    }
    wait_until_set(child_->exited);
    pid_.store(0, std::memory_order_relaxed);
    left_python_.store(1, std::memory_order_release);
    futex_wake_all(left_python_);
    child_let_go_of_buffers();  // no view of them is left
    std::vector<Request *> held;
    {
        SendLock lock(*this);
        child_alive_ = false;
        child_results_fd_ = -1;  // its arena closes with it; mappings stay
        take_inflight_locked(held);
        slotless_.clear();
    }
    for (Request *r : held) {
        forget_sent(r);
        lane_.complete(r, Outcome{Error(Status::closed, "context '" + ctx_.name() + "' is closed"), {}},
                       Origin::library_thread);
        r->release();
    }
    lane_.queue().close_control();
    lane_.complete_all_as_closed(Origin::library_thread);
    {
        std::lock_guard lock(host_mu_);
        host_stop_ = true;
    }
    host_cv_.notify_all();
    for (auto &t : host_threads_)
        if (t.joinable()) t.join();
    {
        std::unique_ptr<ChildProcess> gone;
        std::lock_guard lock(child_mu_);
        gone = std::move(child_);
    }
    Executor::set_current(nullptr);
    Runtime::get().remove_context(&ctx_);
    io_.mark_exited();
}

}  // namespace pyctx::core
