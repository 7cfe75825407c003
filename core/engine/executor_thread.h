// The thread an executor runs on (a worker or owngil context's thread, a
// process context's io thread) and the word that says it ended. Whoever
// waits for the end first joins it; a close that gives up waiting detaches
// it; the executor's destructor joins it, or detaches it when the thread
// itself drops the last reference to its context and so runs that
// destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "core/base/futex.h"

namespace pyctx::core {

// Joins `t`, or detaches it when called on `t` itself.
inline void join_or_detach(std::thread &t) {
    if (!t.joinable()) return;
    if (t.get_id() == std::this_thread::get_id()) {
        t.detach();
    } else {
        t.join();
    }
}

class ExecutorThread {
public:
    ExecutorThread() = default;
    ExecutorThread(const ExecutorThread &) = delete;
    ExecutorThread &operator=(const ExecutorThread &) = delete;
    ~ExecutorThread() { core::join_or_detach(thread_); }
    // The executor's destructor, before it frees what the thread used.
    void join_or_detach() { core::join_or_detach(thread_); }

    // Starts `f(args...)`; false when no thread could be made.
    template <class F, class... Args>
    bool start(F &&f, Args &&...args) {
        try {
            thread_ = std::thread(std::forward<F>(f), std::forward<Args>(args)...);
        } catch (const std::system_error &) {
            return false;
        }
        return true;
    }

    // On the thread, as its last act on the executor.
    void mark_exited() {
        exited_.store(1, std::memory_order_release);
        futex_wake_all(exited_);
    }
    bool exited() const { return exited_.load(std::memory_order_acquire) != 0; }

    // Waits (0: forever) for mark_exited(), then joins; false on timeout.
    bool wait_exited(int64_t deadline_ns) {
        if (!wait_until_set(exited_, deadline_ns)) return false;
        std::lock_guard lock(join_mu_);
        if (thread_.joinable()) thread_.join();
        return true;
    }
    // The thread ends by itself, unwatched.
    void detach() {
        std::lock_guard lock(join_mu_);
        if (thread_.joinable()) thread_.detach();
    }

private:
    std::thread thread_;
    std::atomic<uint32_t> exited_{0};
    std::mutex join_mu_;  // wait_exited and detach may race (close against free)
};

}  // namespace pyctx::core
