// The in-process executor: one OS thread of this process for the context's
// whole life (stable thread affinity), running Python on the main
// interpreter (worker mode, shared GIL) or on a PEP 684 subinterpreter with
// its own GIL that the thread creates and ends itself (owngil mode).
//
// The thread drains the lane's queue while holding its GIL, batching
// completions, and releases the GIL only to go idle (bounded adaptive
// spinning, then a futex, or the asyncio selector while tasks are pending),
// to deliver completions, or inside host functions. Everything named py_*
// is touched by the context thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/base/futex.h"
#include "core/engine/executor.h"
#include "core/engine/executor_thread.h"
#include "core/host/host_call.h"
#include "core/python/context_thread.h"
#include "core/python/py_state.h"

namespace pyctx::core {

class Context;
class Lane;

class InprocExecutor final : public Executor,
                             public ContextThread,
                             public ServingWaiter,
                             public HostCallWaiter {
public:
    explicit InprocExecutor(Context &ctx);
    ~InprocExecutor() override;

    // ---- Executor ----
    Error start() override;
    void wake() override;
    void stop_claimed(Request *r) override;
    bool defer_delivery(Request *r) override;
    bool on_own_thread() const override;
    Outcome run_nested(Request *r) override;
    bool serve_until_done(Request *r) override;
    void release_env(uint64_t env_id) override;
    void begin_close() override { wake(); }
    bool wait_left_python(int64_t deadline_ns) override;
    bool wait_exited(int64_t deadline_ns) override;
    bool has_exited() const override { return thread_.exited(); }
    void abandon() override;
    uint64_t thread_id() const override { return native_tid_.load(std::memory_order_relaxed); }
    Activity activity() const override {
        uint64_t running = current_id_.load(std::memory_order_relaxed);
        return {parked_.load(std::memory_order_relaxed) != 0,
                running != 0 && running != completed_id_.load(std::memory_order_relaxed)};
    }

    // ---- ContextThread (the Python glue's view; context thread only) ----
    const std::string &context_name() const override;
    PyState &py() override { return *py_; }
    void complete(Request *r, Outcome &&out) override;
    Request *current_request() override { return running_top_; }
    void clear_pending_interrupt(Request *r) override;
    bool is_closing() const override;
    void invoke_host(HostCall *call) override;
    void wait_host_answer(HostCall *call, const Request *waiting) override;
    std::shared_ptr<HostCallWaiter> host_call_waiter() override;
    void add_task(Request *r) override;
    Request *take_task(uint64_t id) override;
    int wake_fd() const override { return event_fd_; }
    const std::shared_ptr<BufferLedger> &buffer_ledger() override;

    // ---- ServingWaiter / HostCallWaiter ----
    void wake_waiter() override { wake(); }
    void host_answer_arrived() override { wake(); }
    bool post_host_reply(HostCall *call) override;

private:
    void thread_main(std::shared_ptr<Context> self);
    // interpreter.cpp: the thread's interpreter and thread state.
    bool setup_interpreter(Error *err);
    void teardown_interpreter();
    // Serves the queue (GIL held on entry and exit) until `until` reads
    // kDone (nullptr: never), `abort` is claimed (nullptr: never) or the
    // context closes.
    void serve(const std::atomic<uint32_t> *until, const Request *abort);
    void serve_loop(const std::atomic<uint32_t> *until, const Request *abort);
    // After a nested serve (a wait inside a task the loop is running):
    // the selector the loop blocks in again when the task yields must be
    // the way wake() reaches this thread, as it was before the wait.
    void rearm_selector();
    void park_until_work(const std::atomic<uint32_t> *until, const Request *abort);
    void process(Request *r);
    void run_control(Request *r);
    void flush_deliveries();  // GIL released
    void flush_deliveries_with_gil();
    // interrupt.cpp
    void interrupt(Request *r);
    void interrupt_preload();
    friend void run_interrupt(std::shared_ptr<Context> ctx, InprocExecutor *ex, uint64_t id);

    Context &ctx_;
    Lane &lane_;
    std::unique_ptr<PyState> py_;

    // 0 awake, 1 parked on the futex, 2 blocked in the event loop's selector.
    std::atomic<uint32_t> parked_{0};
    int event_fd_ = -1;
    // Context thread only: how deep serve() is nested, and the depth whose
    // loop.drive(true) is blocked in the selector (-1: none). A nested
    // serve parks on the futex and leaves parked_ at 0; the selector it
    // returns to would then never be woken.
    int serve_depth_ = 0;
    int selector_depth_ = -1;
    AdaptiveSpin idle_spin_{2048};
    std::vector<Request *> deliveries_;  // context thread only
    Request *running_top_ = nullptr;     // context thread only
    void *saved_thread_state_ = nullptr; // while the GIL is released in a host function

    std::atomic<uint32_t> started_{0};  // 1 ok, 2 failed
    std::atomic<uint32_t> left_python_{0};  // the interpreter is gone
    Error start_error_;
    ExecutorThread thread_;

    // Interpreter access for interrupters (never taken with the GIL held by
    // the context thread while an interrupter may hold it).
    std::mutex interp_mu_;
    bool interp_alive_ = false;
    void *interp_ = nullptr;             // PyInterpreterState*
    void *main_thread_state_ = nullptr;  // owngil: main-interpreter tstate of this thread
    unsigned long py_thread_ident_ = 0;  // PyThread_get_thread_ident()
    std::atomic<uint64_t> current_id_{0};  // top running request, under its GIL
    // The top running request once it has its outcome, before the thread is
    // back in the loop: a sync caller woken by it sees this member as free.
    std::atomic<uint64_t> completed_id_{0};
    std::atomic<uint64_t> native_tid_{0};
};

}  // namespace pyctx::core
