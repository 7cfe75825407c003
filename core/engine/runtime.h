// The process-wide runtime: CPython is process-wide, so there is exactly one.
// It owns the Python main thread (a library thread that initializes and
// finalizes Python and otherwise sleeps), the set of live contexts, and the
// service thread (service.h) that fires deadlines and delivers completions
// that were decided on a host thread (cancel, close).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/base/error.h"
#include "core/engine/service.h"
#include "core/engine/thread_name.h"

namespace pyctx::core {

class Context;

enum class State : int { uninit = 0, initing = 1, running = 2, shutting_down = 3, stopped = 4 };

struct RuntimeOptions {
    std::vector<std::string> paths;
    std::string home;
    std::string program_name;
    int allocator = 0;  // 0 default, 1 malloc, 2 pymalloc
};

class Runtime {
public:
    static Runtime &get();

    Error init(const RuntimeOptions &options);
    Error shutdown(uint32_t timeout_ms);

    State state() const { return state_.load(std::memory_order_acquire); }
    bool running() const { return state() == State::running; }
    const char *python_version() const { return python_version_; }
    static bool owngil_supported();

    void *main_interpreter() const { return main_interp_; }
    // Extra sys.path entries from the init options (fixed once RUNNING).
    const std::vector<std::string> &search_paths() const { return search_paths_; }
    // The init options (fixed once RUNNING).
    const RuntimeOptions &options() const { return options_; }

    // Contexts register while the runtime runs; shutdown closes them all.
    Error add_context(const std::shared_ptr<Context> &ctx);
    void remove_context(const Context *ctx);

    Service &service() { return service_; }

    // Serializes creating and ending subinterpreters (taken before any GIL).
    std::mutex subinterpreter_mu;

private:
    Runtime() = default;
    void python_main(RuntimeOptions options);

    std::atomic<State> state_{State::uninit};
    std::atomic<uint32_t> init_done_{0};  // futex word: 1 when INITING is over
    Error init_error_;
    char python_version_[32] = "";
    void *main_interp_ = nullptr;
    std::vector<std::string> search_paths_;
    RuntimeOptions options_;

    std::thread python_thread_;
    std::mutex py_mu_;
    std::condition_variable py_cv_;
    bool finalize_requested_ = false;
    int64_t finalize_deadline_ns_ = 0;
    bool python_finalized_ = false;
    std::vector<std::string> threads_left_;  // non-daemon threads that blocked finalizing

    std::mutex contexts_mu_;
    std::vector<std::weak_ptr<Context>> contexts_;

    Service service_;
};

}  // namespace pyctx::core
