#include "core/engine/runtime.h"

#include <Python.h>
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <functional>

#include "core/engine/context.h"
#include "core/engine/executor.h"
#include "core/python/embed.h"
#include "core/python/interpreter_exit.h"
#include "core/base/futex.h"
#include "core/host/endpoints.h"
#include "core/host/log_sink.h"
#include "core/host/registry.h"

namespace pyctx::core {

Runtime &Runtime::get() {
    // Intentionally leaked: contexts and detached threads may outlive static
    // destruction order.
    static Runtime *runtime = new Runtime();
    return *runtime;
}

bool Runtime::owngil_supported() {
#if PY_VERSION_HEX >= 0x030C0000
    return true;
#else
    return false;
#endif
}

// ---------------------------------------------------------------------------
// init / shutdown

Error Runtime::init(const RuntimeOptions &options) {
    State expected = State::uninit;
    if (!state_.compare_exchange_strong(expected, State::initing, std::memory_order_acq_rel)) {
        // Someone else initializes (or did): wait until INITING is over.
        wait_until_set(init_done_);
        return Error(Status::already_initialized,
                     state() == State::running ? "the runtime is already initialized"
                                               : "the runtime was already initialized and has "
                                                 "stopped; Python cannot be initialized twice");
    }

    // Added to every interpreter's sys.path as its context starts (an
    // isolated config ignores PYTHONPATH-style settings).
    search_paths_ = options.paths;
    options_ = options;  // process contexts pass them on to their child
    python_thread_ = std::thread([this, options] {
        name_this_thread("pyctx-python");
        python_main(options);
    });
    {
        std::unique_lock lock(py_mu_);
        py_cv_.wait(lock, [this] { return main_interp_ != nullptr || !init_error_.ok(); });
    }
    Error result = init_error_;
    if (!result.ok()) {
        python_thread_.join();
        state_.store(State::stopped, std::memory_order_release);
    } else {
        service_.start();
        state_.store(State::running, std::memory_order_release);
    }
    init_done_.store(1, std::memory_order_release);
    futex_wake_all(init_done_);
    return result;
}


// Extension modules (.so files imported by Python) resolve the C API from
// the global symbol scope. A host that dlopen()s pyctx with RTLD_LOCAL (an
// Erlang NIF, a plugin) leaves libpython out of it, so promote it.
static void make_libpython_global() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&Py_InitializeFromConfig), &info) && info.dli_fname) {
        void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
        (void)h;  // kept open for the life of the process on purpose
    }
}

void Runtime::python_main(RuntimeOptions options) {
    Error err;
    PyThreadState *saved = nullptr;
    do {
        if (Py_IsInitialized()) {
            err = Error(Status::unsupported,
                        "Python is already initialized in this process by someone else");
            break;
        }
        make_libpython_global();
        EmbedSettings settings;
        settings.home = options.home;
        settings.program_name = options.program_name;
        settings.allocator = options.allocator;
        settings.own_signals = false;  // the host owns signals
        err = initialize_python(settings);
        if (!err.ok()) break;
        // The libpython actually loaded ("3.13.0 (main, ...)"), not the headers.
        const char *v = Py_GetVersion();
        size_t n = std::min(std::strcspn(v, " "), sizeof python_version_ - 1);
        std::memcpy(python_version_, v, n);
        python_version_[n] = '\0';
        // Python runs only on context threads: this thread keeps the main
        // thread state parked until shutdown.
        saved = PyEval_SaveThread();
    } while (false);

    {
        std::lock_guard lock(py_mu_);
        if (!err.ok()) {
            init_error_ = err;
        } else {
            main_interp_ = PyInterpreterState_Main();
        }
    }
    py_cv_.notify_all();
    if (!err.ok()) return;

    std::unique_lock lock(py_mu_);
    py_cv_.wait(lock, [this] { return finalize_requested_; });
    int64_t deadline = finalize_deadline_ns_;
    lock.unlock();
    PyEval_RestoreThread(saved);
    // Py_FinalizeEx joins every non-daemon thread without bound: join them
    // here against the shutdown's deadline, and leave Python initialized
    // (this thread parked in it) if some still run.
    std::vector<std::string> running = join_main_threads(deadline);
    if (!running.empty()) {
        saved = PyEval_SaveThread();
        lock.lock();
        threads_left_ = std::move(running);
        python_finalized_ = true;  // as far as this thread goes: it will not finalize
        py_cv_.notify_all();
        return;
    }
    Py_FinalizeEx();
    // Python is gone: views of lent buffers it never freed end their loans.
    Buffer::end_leaked_leases();
    lock.lock();
    python_finalized_ = true;
    py_cv_.notify_all();
}

Error Runtime::shutdown(uint32_t timeout_ms) {
    // Shutdown waits for every library thread; on one of them it would wait
    // for itself (or finalize Python under its own feet).
    if (Executor::current() || service_.on_service_thread() ||
        std::this_thread::get_id() == python_thread_.get_id()) {
        return Error(Status::invalid_argument,
                     "pyctx_shutdown cannot run on a library thread (a completion callback or a "
                     "host function): call it from a thread of the host");
    }
    State expected = State::running;
    if (!state_.compare_exchange_strong(expected, State::shutting_down,
                                        std::memory_order_acq_rel)) {
        return Error(Status::not_running, "the runtime is not running");
    }
    // One deadline for the whole shutdown, however many contexts are stuck.
    const int64_t deadline = now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
    std::vector<std::shared_ptr<Context>> live;
    {
        std::lock_guard lock(contexts_mu_);
        for (auto &w : contexts_)
            if (auto c = w.lock()) live.push_back(std::move(c));
        contexts_.clear();
    }
    for (auto &c : live) c->begin_close();
    std::string stuck;
    for (auto &c : live) {
        if (c->close_until(deadline).status == Status::stuck)
            stuck += (stuck.empty() ? "'" : ", '") + c->name() + "'";
    }
    live.clear();

    // Every pending completion is delivered before Python goes away.
    service_.stop();
    host_registry().clear();
    endpoints().clear();
    log_sink().shutdown();

    if (!stuck.empty()) {
        // A context thread is still inside Python: finalizing would crash it.
        python_thread_.detach();
        state_.store(State::stopped, std::memory_order_release);
        return Error(Status::stuck, "context(s) " + stuck +
                                        " did not return from Python in time; Python was left "
                                        "initialized");
    }
    std::unique_lock lock(py_mu_);
    finalize_requested_ = true;
    // The Python thread stops joining threads a little before the deadline,
    // so its report (which threads still run) arrives within it.
    const int64_t remaining = deadline - now_ns();
    finalize_deadline_ns_ =
        deadline - std::min<int64_t>(100'000'000, remaining > 0 ? remaining / 5 : 0);
    py_cv_.notify_all();
    // Finalizing runs atexit callbacks too: bounded by the same deadline.
    bool finished = py_cv_.wait_until(lock, Clock::time_point(std::chrono::nanoseconds(deadline)),
                                      [this] { return python_finalized_; });
    std::vector<std::string> left = threads_left_;
    lock.unlock();
    if (finished && left.empty()) {
        python_thread_.join();
        state_.store(State::stopped, std::memory_order_release);
        return {};
    }
    python_thread_.detach();
    state_.store(State::stopped, std::memory_order_release);
    if (!finished)
        return Error(Status::stuck, "Python's finalization (atexit callbacks) did not finish in "
                                    "time; it goes on in the background");
    std::string names;
    for (const auto &n : left) names += (names.empty() ? "'" : ", '") + n + "'";
    return Error(Status::stuck, "Python threads " + names +
                                    " (not daemon) were still running at the deadline; Python "
                                    "was left initialized");
}

// ---------------------------------------------------------------------------
// contexts

Error Runtime::add_context(const std::shared_ptr<Context> &ctx) {
    std::lock_guard lock(contexts_mu_);
    if (!running()) return Error(Status::not_running, "the runtime is not running");
    // Drop entries of contexts that are gone, so churn does not grow the list.
    std::erase_if(contexts_, [](const std::weak_ptr<Context> &w) { return w.expired(); });
    contexts_.push_back(ctx);
    return {};
}

void Runtime::remove_context(const Context *ctx) {
    std::lock_guard lock(contexts_mu_);
    std::erase_if(contexts_, [ctx](const std::weak_ptr<Context> &w) {
        auto c = w.lock();
        return !c || c.get() == ctx;
    });
}

}  // namespace pyctx::core
