// A context: one Python execution lane with its own OS thread for its whole
// life, in worker mode (main interpreter, shared GIL) or owngil mode (a
// PEP 684 subinterpreter with its own GIL).
//
// Threads: any thread submits; the context thread drains the queue while
// holding its GIL, and releases the GIL only to go idle or to deliver async
// completions. Everything named py_* is touched by the context thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/futex.h"
#include "core/request.h"
#include "core/spin_lock.h"

namespace pyctx::core {

enum class Mode : int { worker = 0, owngil = 1 };

struct ContextOptions {
    Mode mode = Mode::worker;
    std::string name;
    std::string preload;
    size_t queue_capacity = 0;  // 0 = unbounded
};

struct ContextStats {
    uint64_t completed = 0, failed = 0, cancelled = 0, timed_out = 0, closed = 0;
    uint64_t queue_depth = 0;
    uint64_t thread_id = 0;
};

class PyState;  // the context thread's Python-side state (py_state.h)
struct HostCall;

class Context : public std::enable_shared_from_this<Context> {
public:
    // Starts the thread and waits for its interpreter (and preload).
    static Error create(ContextOptions options, std::shared_ptr<Context> *out);
    ~Context();

    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    // ---- submission (any thread) ----
    uint64_t next_request_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
    uint64_t new_env_id() { return next_env_id_.fetch_add(1, std::memory_order_relaxed); }

    // Queues an async request (sink set). On error the request was not
    // accepted and will never complete.
    Error submit(RequestRef request);
    // Runs a sync request (no sink) and waits for its outcome, honouring its
    // deadline. On the context's own thread (re-entrant host function) it
    // runs inline.
    Outcome run_sync(RequestRef request);
    // Queues an internal request that must reach the thread even while
    // closing is under way (returns false once the thread has finished).
    bool post_internal(RequestRef request);

    Error cancel(uint64_t request_id);
    Error close(uint32_t timeout_ms);
    void begin_close();  // close without waiting (handle finalizers)

    // ---- introspection ----
    Mode mode() const { return options_.mode; }
    const std::string &name() const { return options_.name; }
    bool is_closing() const { return closing_.load(std::memory_order_acquire); }
    bool has_exited() const { return exited_.load(std::memory_order_acquire) != 0; }
    ContextStats stats() const;

    // ---- completion (any thread that claimed the request) ----
    // Records `outcome` and delivers it. `on_library_thread` says whether an
    // async callback may run right here; otherwise the runtime's service
    // thread delivers it.
    void finish(Request *request, Outcome outcome, bool on_library_thread);
    // Delivers an already-claimed request whose outcome is set.
    static void deliver(Request *request);

    // The context whose thread this is, or nullptr.
    static Context *current();

    // ---- used by the context thread's Python layer ----
    PyState *py() { return py_.get(); }
    // Serves the queue (GIL held on entry and exit) until `*until` becomes
    // non-zero or the context closes (until == nullptr: only the latter). The
    // main loop and nested waits for host answers both use it.
    // `abort` (may be null) also ends the wait once someone else claims it.
    void serve(const std::atomic<uint32_t> *until, const Request *abort = nullptr);
    // The innermost request this thread is executing (context thread only).
    Request *current_request() const { return running_.empty() ? nullptr : running_.back(); }
    // Clears an interrupt posted for `r` that has not fired yet (GIL held).
    void clear_pending_interrupt(Request *r);
    void wake();  // wakes the thread if it is parked
    int event_fd() const { return event_fd_; }
    void defer_delivery(Request *request);  // GIL held: deliver when idle
    void flush_deliveries();                // GIL released
    void *saved_thread_state = nullptr;     // while the GIL is released in a host call

    // Interruption of the running request (any thread).
    void interrupt(Request *request);
    // After someone else claimed `request`: stops its Python work, whatever
    // phase it is in (interrupt a running call, cancel a task).
    void stop_claimed(Request *request);
    // Registry of coroutine requests running as asyncio tasks.
    void add_task(Request *request);
    Request *take_task(uint64_t id);  // nullptr if unknown

private:
    explicit Context(ContextOptions options);
    void thread_main(std::shared_ptr<Context> self);
    bool setup_interpreter(Error *err);
    void teardown_interpreter();
    void drain_closed(bool on_library_thread);
    Request *pop();
    bool has_work() const { return depth_.load(std::memory_order_acquire) != 0; }
    void park();
    void process(Request *request);
    void count(const Error &error);

    ContextOptions options_;
    std::atomic<uint64_t> next_id_{1};
    std::atomic<uint64_t> next_env_id_{1};

    // Queue: intrusive FIFO under a spin lock; `running_` holds the stack of
    // requests the thread is executing (nested when a host function calls
    // back), `tasks_` the coroutine requests pending on the event loop.
    mutable SpinLock qlock_;
    Request *head_ = nullptr;
    Request *tail_ = nullptr;
    std::atomic<size_t> depth_{0};
    std::vector<Request *> running_;
    std::unordered_map<uint64_t, Request *> tasks_;
    bool internal_open_ = true;  // internal requests still accepted (under qlock_)

    // 0 awake, 1 parked on the futex, 2 blocked in the event loop's selector.
    std::atomic<uint32_t> parked_{0};
    int event_fd_ = -1;
    AdaptiveSpin idle_spin_{2048};
    std::vector<Request *> deliveries_;  // context thread only

    std::atomic<bool> closing_{false};
    std::atomic<uint32_t> started_{0};  // 1 ok, 2 failed
    std::atomic<uint32_t> exited_{0};
    Error start_error_;
    std::thread thread_;
    std::mutex close_mu_;

    // Interpreter access for interrupters (never taken with the GIL held by
    // the context thread while an interrupter may hold it).
    std::mutex interp_mu_;
    bool interp_alive_ = false;
    void *interp_ = nullptr;            // PyInterpreterState*
    void *main_thread_state_ = nullptr; // owngil: main-interpreter tstate of this thread
    unsigned long py_thread_ident_ = 0; // PyThread_get_thread_ident()
    std::atomic<uint64_t> current_id_{0};  // top running request, under its GIL
    std::atomic<uint64_t> native_tid_{0};

    std::unique_ptr<PyState> py_;

    std::atomic<uint64_t> n_completed_{0}, n_failed_{0}, n_cancelled_{0}, n_timed_out_{0},
        n_closed_{0};

    friend class PyState;
    friend void run_interrupt(std::shared_ptr<Context> ctx, uint64_t request_id);
};

}  // namespace pyctx::core
