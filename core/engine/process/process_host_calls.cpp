// Host functions called by the child's Python: run on a host-call thread of
// this context (never the io thread, since a host function may call back
// into this context and wait), answered from any thread, relayed back to the
// child through the request ring. The child knows no registry: it sends
// every pyctx.call by name, and an unknown name is answered as an error.
// The host's own state (the shared store, pyctx.send) arrives the same way,
// under reserved names (core/host/builtin_calls.h).
#include <cstdint>

#include "core/base/futex.h"
#include "core/engine/context.h"
#include "core/engine/process/process_executor.h"
#include "core/engine/process/wire.h"
#include "core/engine/thread_name.h"
#include "core/host/builtin_calls.h"
#include "core/host/registry.h"

namespace pyctx::core {

namespace {

// Where the answer of one call goes: back to the child generation that
// asked (a restarted child never sees an answer meant for its predecessor).
class AnswerRelay final : public HostCallWaiter {
public:
    AnswerRelay(std::weak_ptr<Context> ctx, ProcessExecutor *ex, uint32_t gen, uint64_t id,
                HostCall *call)
        : ctx_(std::move(ctx)), ex_(ex), gen_(gen), id_(id), call_(call) {}
    void host_answer_arrived() override {
        if (auto keep = ctx_.lock()) ex_->post_answer(gen_, id_, call_);
    }
    bool post_host_reply(HostCall *call) override {  // calls are never "awaited" host-side
        call->release();
        return false;
    }

private:
    std::weak_ptr<Context> ctx_;
    ProcessExecutor *ex_;
    uint32_t gen_;
    uint64_t id_;
    HostCall *call_;  // owns this relay, so it outlives every use of it
};

}  // namespace

void ProcessExecutor::answer_inline(uint64_t call_id, bool ok, const ByteBuffer &value,
                                    const std::string &message) {
    ByteBuffer m;
    wire::Writer w(m);
    w.u8(static_cast<uint8_t>(wire::ToChild::host_answer)).u64(call_id).u8(ok ? 1 : 0);
    if (ok) {
        w.bytes(value);
    } else {
        w.str(message);
    }
    if (!w.ok() || m.size() > seg_.to_child().max_payload()) {
        m.clear();
        wire::Writer(m)
            .u8(static_cast<uint8_t>(wire::ToChild::host_answer))
            .u64(call_id)
            .u8(0)
            .str("the answer exceeds what a process context carries in one message");
    }
    SendLock lock(*this);
    send_locked(m);
    ring_bell(seg_.header().child_bell, child_wake_fd_);
    nudge_answer_waiters();
}

void ProcessExecutor::nudge_answer_waiters() {
    SegmentHeader &h = seg_.header();
    // Pairs with the waiter's count before it looks at the ring: either it
    // sees the answer written, or we see it counted.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (h.plain_waiters.load(std::memory_order_seq_cst) == 0) return;
    h.answer_bell.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_shared(h.answer_bell, INT32_MAX);
}

void ProcessExecutor::start_host_call(uint64_t call_id, std::string_view name,
                                      std::string_view args) {
    if (builtin::is_store(name)) {
        // The store never blocks and runs no user code: answered right here,
        // in ring order, without a thread handoff.
        ByteBuffer answer;
        std::string error;
        const bool ok = builtin::run_store(args, answer, &error);
        answer_inline(call_id, ok, answer, error.empty() ? "out of memory" : error);
        return;
    }
    if (builtin::is_channel(name)) {
        builtin::ChannelOp op{};
        if (builtin::channel_op(args, &op) &&
            (op == builtin::ChannelOp::wait_readable || op == builtin::ChannelOp::wait_writable)) {
            // A wake-up token the channel answers (from whichever thread
            // makes it ready) through this context's answer relay; the
            // child then retries. It carries no value, so a child that gave
            // up waiting meanwhile loses nothing.
            auto *token = new HostCall();  // one reference for us, one for the channel
            token->name = "channel";
            token->context_name = ctx_.name();
            token->waiter = std::make_shared<AnswerRelay>(ctx_.shared_from_this(), this,
                                                          child_->generation, call_id, token);
            std::string error;
            if (!builtin::channel_wait(args, token, &error)) host_call_fail(token, error.c_str());
            token->release();
            return;
        }
        ByteBuffer answer;
        std::string error;
        const bool ok = builtin::run_channel(args, answer, &error, inline_answer_room());
        answer_inline(call_id, ok, answer, error.empty() ? "out of memory" : error);
        return;
    }
    if (builtin::is_send(name)) {
        // The send function must not block (pyctx.h), as on a context
        // thread: it runs right here, in ring order, and the child waits one
        // round trip, not two thread handoffs.
        ByteBuffer answer;
        std::string error;
        const bool ok = builtin::run_send(ctx_.name(), args, answer, &error);
        answer_inline(call_id, ok, answer, error.empty() ? "out of memory" : error);
        return;
    }
    std::shared_ptr<HostFunction> fn = host_registry().find(name);
    if (!fn) {
        ByteBuffer m;
        wire::Writer(m)
            .u8(static_cast<uint8_t>(wire::ToChild::host_answer))
            .u64(call_id)
            .u8(wire::kAnswerUnknownFunction)
            .str("no host function named '" + std::string(name) + "' is registered");
        SendLock lock(*this);
        send_locked(m);
        ring_bell(seg_.header().child_bell, child_wake_fd_);
        nudge_answer_waiters();
        return;
    }
    auto *call = new HostCall();  // one reference for us, one for the answer
    call->name.assign(name);
    call->context_name = ctx_.name();
    if (!call->args.append(args.data(), args.size())) {
        delete call;
        return;
    }
    call->function = std::move(fn);
    call->waiter = std::make_shared<AnswerRelay>(ctx_.shared_from_this(), this,
                                                 child_->generation, call_id, call);
    std::lock_guard lock(host_mu_);
    host_calls_.push_back(call);
    if (idle_hosts_ < host_calls_.size()) {
        try {
            host_threads_.emplace_back(&ProcessExecutor::host_thread_main, this);
            ++idle_hosts_;
        } catch (const std::system_error &) {
            if (host_threads_.empty()) {
                host_calls_.pop_back();
                host_call_fail(call, "no thread to run host functions on");
                call->release();
                return;
            }
        }
    }
    host_cv_.notify_one();
}

void ProcessExecutor::host_thread_main() {
    Executor::set_current(this);
    name_this_thread("pyctx-proc-host");
    std::unique_lock lock(host_mu_);
    for (;;) {
        host_cv_.wait(lock, [&] { return host_stop_ || !host_calls_.empty(); });
        if (host_calls_.empty()) break;
        HostCall *call = host_calls_.front();
        host_calls_.pop_front();
        --idle_hosts_;
        if (host_stop_) {
            lock.unlock();
            host_call_fail(call, "the context closed before the host function ran");
            call->release();
            lock.lock();
            ++idle_hosts_;
            continue;
        }
        lock.unlock();
        std::shared_ptr<HostFunction> fn = std::move(call->function);
        fn->invoke(call);
        fn.reset();  // may run the finalizer of an unregistered function
        call->release();
        lock.lock();
        ++idle_hosts_;
    }
    Executor::set_current(nullptr);
}

void ProcessExecutor::post_answer(uint32_t gen, uint64_t call_id, HostCall *call) {
    Answer a{gen, call_id, call->ok, {}, call->error_message};
    if (a.ok && !a.value.append(call->value.data(), call->value.size())) {
        a.ok = false;
        a.message = "out of memory";
    }
    {
        std::lock_guard lock(host_mu_);
        answers_.push_back(std::move(a));
        answers_pending_.store(true, std::memory_order_release);
    }
    // The io thread relays it.
    if (seg_ready_.load(std::memory_order_acquire)) ring_bell(seg_.header().host_bell, -1);
}

bool ProcessExecutor::take_answers() {
    if (!answers_pending_.load(std::memory_order_acquire)) return false;
    std::vector<Answer> batch;
    {
        std::lock_guard lock(host_mu_);
        batch.swap(answers_);
        answers_pending_.store(false, std::memory_order_relaxed);
    }
    for (Answer &a : batch) {
        if (a.gen != child_->generation) continue;  // meant for a child that died
        ByteBuffer m;
        wire::Writer w(m);
        w.u8(static_cast<uint8_t>(wire::ToChild::host_answer)).u64(a.call_id).u8(a.ok ? 1 : 0);
        if (a.ok) {
            w.bytes(a.value);
        } else {
            w.str(a.message);
        }
        if (w.ok() && m.size() > seg_.to_child().max_payload()) {
            m.clear();
            wire::Writer(m)
                .u8(static_cast<uint8_t>(wire::ToChild::host_answer))
                .u64(a.call_id)
                .u8(0)
                .str("the host function's answer (" + std::to_string(a.value.size()) +
                     " bytes) exceeds what a process context carries in one message");
        }
        if (w.ok()) {
            SendLock lock(*this);
            send_locked(m);
        }
    }
    if (!batch.empty()) {
        SendLock lock(*this);
        ring_bell(seg_.header().child_bell, child_wake_fd_);
        nudge_answer_waiters();
    }
    return !batch.empty();
}

}  // namespace pyctx::core
