// A thread-safe counter one can wait on: callbacks count, the test waits for
// a target with a guard instead of polling or sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace pyctx_test {

class Counter {
public:
    void add(size_t k = 1) {
        // Notify under the lock: the waiter may destroy the counter as soon
        // as it sees the target.
        std::lock_guard<std::mutex> lock(mu_);
        n_ += k;
        cv_.notify_all();
    }
    size_t value() {
        std::lock_guard<std::mutex> lock(mu_);
        return n_;
    }
    /** True once the count reached `target`; false after `guard`. */
    bool wait_for(size_t target, std::chrono::milliseconds guard = std::chrono::seconds(10)) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, guard, [&] { return n_ >= target; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    size_t n_ = 0;
};

/** Counts the calls of a finalizer (`fn` with this as its user data). */
struct Finalized {
    std::atomic<int> calls{0};
    Counter done;
    static void fn(void *user) {
        auto *f = static_cast<Finalized *>(user);
        f->calls.fetch_add(1);
        f->done.add();
    }
    bool wait() { return done.wait_for(1); }
};

} // namespace pyctx_test
