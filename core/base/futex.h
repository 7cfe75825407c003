// Parking a thread on a 32-bit atomic word. On Linux this is the futex
// syscall directly: std::atomic::wait in libstdc++ adds a waiter table and
// its own spinning, and cannot time out, both of which we need to control.
#pragma once

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pyctx::core {

// Blocks while `word == expected`, until woken, a spurious wake-up, or the
// timeout (nanoseconds; negative means forever). Returns false on timeout.
bool futex_wait(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns = -1);

// Wakes up to `count` threads blocked in futex_wait on `word`.
void futex_wake(std::atomic<uint32_t> &word, int count = 1);
void futex_wake_all(std::atomic<uint32_t> &word);

// The same for a word in memory shared between processes (an mmap'd
// segment): the kernel keys these waits by the physical page, not by this
// process's address space, so the other process's wake reaches them.
bool futex_wait_shared(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns = -1);
void futex_wake_shared(std::atomic<uint32_t> &word, int count = 1);

// One spin-loop step: tells the CPU we are busy-waiting.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

using Clock = std::chrono::steady_clock;

inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// Blocks until `word` is non-zero (a one-shot flag: started, left Python,
// exited) or the steady-clock `deadline_ns` passes (0: no deadline).
// True when the flag is set.
inline bool wait_until_set(std::atomic<uint32_t> &word, int64_t deadline_ns = 0) {
    while (word.load(std::memory_order_acquire) == 0) {
        int64_t remaining = -1;
        if (deadline_ns) {
            remaining = deadline_ns - now_ns();
            if (remaining <= 0) return false;
        }
        futex_wait(word, 0, remaining);
    }
    return true;
}

// Bounded adaptive spinning, used before parking on both sides of a handoff.
// The budget grows when spinning pays off and shrinks when it does not, so
// an idle context stops burning a core while a busy ping-pong stays in the
// sub-microsecond regime.
class AdaptiveSpin {
public:
    static constexpr uint32_t kMin = 64;
    static constexpr uint32_t kMax = 1u << 13;

    explicit AdaptiveSpin(uint32_t initial = 1024) : budget_(initial) {}

    // Spins until pred() is true or the budget is spent. Returns pred().
    // With `yield_every`, every that many turns give the CPU to another
    // runnable thread instead of pausing: for a spinner that shares few
    // cores with the threads it waits for (a process context's child and io
    // thread wait on the submitter, three busy threads on two cores), so its
    // spin does not hold a core one of them needs. With nothing else
    // runnable, sched_yield returns at once.
    template <class Pred>
    bool spin(Pred &&pred, uint32_t yield_every = 0) {
        for (uint32_t i = 0; i < budget_; ++i) {
            if (pred()) {
                grow();
                return true;
            }
            if (yield_every && i % yield_every == yield_every - 1) {
                sched_yield();
            } else {
                cpu_relax();
            }
        }
        if (pred()) return true;
        shrink();
        return false;
    }

private:
    void grow() {
        if (budget_ < kMax) budget_ += (budget_ >> 3) + 1;
    }
    void shrink() {
        if (budget_ > kMin) budget_ >>= 1;
    }
    // Not atomic: every spinner is owned by one thread (a context thread's
    // idle spin, a caller's thread_local spin).
    uint32_t budget_;
};

}  // namespace pyctx::core
