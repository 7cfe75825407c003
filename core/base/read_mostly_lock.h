// A reader-writer lock for state that is read on every submission and
// written rarely (a pool's membership). A reader costs one atomic add to take
// and one to release, with no call into the C library; std::shared_mutex
// (pthread_rwlock) costs several times that, on the path of every pooled
// request. Writers are serialised by a mutex and park on a futex until the
// readers present have left; readers that arrive while a writer holds the
// lock park until it lets go.
//
// Readers are preferred, as with glibc's default rwlock: a writer waits for
// a moment with no reader, and a reader never waits for a writer that is
// only waiting. So a thread that holds the reader side may take it again
// (a completion callback that submits to the same pool), which a
// writer-preferring lock would deadlock. Meets the SharedMutex requirements
// std::shared_lock and std::unique_lock use.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/base/futex.h"

namespace pyctx::core {

class ReadMostlyLock {
public:
    void lock_shared() {
        for (;;) {
            uint32_t s = state_.fetch_add(1, std::memory_order_acquire);
            if (!(s & kWriter)) return;
            // A writer holds it: undo, then park until it lets go.
            leave_reader();
            while ((s = state_.load(std::memory_order_acquire)) & kWriter) futex_wait(state_, s);
        }
    }
    void unlock_shared() { leave_reader(); }

    void lock() {
        writers_.lock();
        for (;;) {
            uint32_t s = state_.load(std::memory_order_acquire);
            if ((s & kReaders) == 0) {
                if (state_.compare_exchange_weak(s, kWriter, std::memory_order_acquire)) return;
                continue;
            }
            // Readers present: flag the wait so the last one out wakes us.
            if (!(s & kWaiting) &&
                !state_.compare_exchange_weak(s, s | kWaiting, std::memory_order_relaxed))
                continue;
            futex_wait(state_, s | kWaiting);
        }
    }
    void unlock() {
        state_.fetch_and(~kWriter, std::memory_order_release);
        futex_wake_all(state_);  // readers parked behind us
        writers_.unlock();
    }

private:
    static constexpr uint32_t kWriter = 1u << 31;   // a writer holds it
    static constexpr uint32_t kWaiting = 1u << 30;  // a writer waits for readers to leave
    static constexpr uint32_t kReaders = kWaiting - 1;

    void leave_reader() {
        uint32_t before = state_.fetch_sub(1, std::memory_order_release);
        if ((before & kWaiting) && (before & kReaders) == 1) futex_wake_all(state_);
    }

    std::atomic<uint32_t> state_{0};
    std::mutex writers_;
};

}  // namespace pyctx::core
