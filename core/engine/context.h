// A context: one Python execution lane. It is the lane (lane.h: every
// request's life) plus an executor (executor.h: where Python runs), created
// together and registered with the runtime. Closing is separate from
// releasing the last reference, so a front end's handle can report "closed"
// safely after close.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/base/error.h"
#include "core/engine/executor.h"
#include "core/engine/lane.h"
#include "core/request/buffers.h"
#include "core/python/memory_cap.h"
#include "core/python/sandbox_policy.h"

namespace pyctx::core {

enum class Mode : int { worker = 0, owngil = 1, process = 2 };
// Where a process context's child writes: the host's stderr, or log records.
enum class ProcessOutput : int { stderr_stream = 0, log = 1 };

struct ContextOptions {
    Mode mode = Mode::worker;
    std::string name;
    std::string preload;
    size_t queue_capacity = 0;  // 0 = unbounded
    std::shared_ptr<const SandboxPolicy> sandbox;  // nullptr: none (immutable, shared)
    size_t memory_limit = 0;                       // bytes; 0 = none (owngil only)
    uint32_t create_timeout_ms = 0;  // 0 = wait for the preload as long as it runs
    // process mode: the helper executable ("" = next to the library, else
    // the install path) and the restart budget (0 = a crash closes it).
    std::string process_helper;
    uint32_t restart_max = 0, restart_window_ms = 0;
    ProcessOutput process_output = ProcessOutput::stderr_stream;
};

struct ContextStats : LaneStats {
    uint64_t thread_id = 0;
    uint64_t memory_used = 0, memory_limit = 0;  // only counted with a limit
    uint64_t child_pid = 0;  // process mode: the current child (0: none)
    uint32_t restarts = 0;   // process mode: children started after a crash
};

class Context : public std::enable_shared_from_this<Context> {
public:
    // Starts the executor and waits until it is ready (preload run).
    static Error create(ContextOptions options, std::shared_ptr<Context> *out);
    ~Context();
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    Lane &lane() { return lane_; }
    Executor &executor() { return *executor_; }
    const ContextOptions &options() const { return options_; }
    Mode mode() const { return options_.mode; }
    const std::string &name() const { return options_.name; }
    bool is_closing() const { return lane_.is_closing(); }
    // The context's memory cap, or nullptr without a limit.
    MemoryCap *memory_cap() const { return memory_cap_.get(); }
    // What crosses as borrowed buffers; outlives the context while views do.
    const std::shared_ptr<BufferLedger> &buffers() const { return buffers_; }

    uint64_t new_env_id() { return next_env_id_.fetch_add(1, std::memory_order_relaxed); }
    // Forgets an env's namespace (on the executor, later).
    void drop_env(uint64_t env_id);

    // Closes and waits up to `timeout_ms` for Python to return; then waits
    // for the remaining completions to be delivered (bounded by the queue,
    // not by the timeout). Status::stuck when Python did not return in time.
    Error close(uint32_t timeout_ms);
    // The same against an absolute deadline (shutdown: one for all).
    Error close_until(int64_t deadline_ns);
    // Closes without waiting (handle finalizers).
    void begin_close() { lane_.begin_close(); }

    ContextStats stats() const;

private:
    explicit Context(ContextOptions options);

    ContextOptions options_;
    Lane lane_;
    std::unique_ptr<MemoryCap> memory_cap_;
    std::shared_ptr<BufferLedger> buffers_ = std::make_shared<BufferLedger>();
    std::unique_ptr<Executor> executor_;
    std::atomic<uint64_t> next_env_id_{1};
    std::mutex close_mu_;
};

}  // namespace pyctx::core
