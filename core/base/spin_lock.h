// A test-and-test-and-set lock for very short critical sections (queue
// push/pop). Under contention it yields instead of sleeping in the kernel:
// the sections are a few pointer writes long.
#pragma once

#include <atomic>
#include <thread>

#include "core/base/futex.h"

namespace pyctx::core {

class SpinLock {
public:
    void lock() {
        for (unsigned spins = 0;; ++spins) {
            if (!locked_.exchange(true, std::memory_order_acquire)) return;
            while (locked_.load(std::memory_order_relaxed)) {
                if (++spins < 64) {
                    cpu_relax();
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
    void unlock() { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

}  // namespace pyctx::core
