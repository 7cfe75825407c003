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
//
// Shrinking alone has a trap: two threads that hand work back and forth
// and have both shrunk their budget below what waking a parked thread
// costs (a futex wake-up is 3-12 us on a VM) both park on every handoff
// from then on, since each spins for less time than the other takes to
// wake -- and stay there (round trips 10x slower than spinning, seen as
// contexts stuck at 6-9 us while identical ones ran at 0.6 us). So a
// waiter that parked reports when it woke (after_park): a wake within
// kCatchNs of the spin giving up means a spin that long would have caught
// it, and the budget grows to cover it. The cost the machine's park has is
// what the budget learns, not a fixed number. The spin's fast path reads no
// clock: the time is taken only once a spin has run kTimedFrom turns.
class AdaptiveSpin {
public:
    static constexpr uint32_t kMin = 64;
    static constexpr uint32_t kMax = 1u << 13;
    static constexpr uint32_t kTimedFrom = 32;     // turns before the clock is read (< kMin)
    static constexpr int64_t kCatchNs = 100'000;   // wakes this soon are worth spinning for

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
        failed_at_ns_ = 0;
        int64_t timed_from = 0;
        for (uint32_t i = 0; i < budget_; ++i) {
            if (pred()) {
                grow();
                return true;
            }
            if (i == kTimedFrom) timed_from = now_ns();
            if (yield_every && i % yield_every == yield_every - 1) {
                sched_yield();
            } else {
                cpu_relax();
            }
        }
        if (pred()) return true;
        if (timed_from && budget_ > kTimedFrom) {
            failed_at_ns_ = now_ns();
            const uint32_t timed_turns = budget_ - kTimedFrom;
            turn_ns_ = static_cast<double>(failed_at_ns_ - timed_from) / timed_turns;
            failed_budget_ = budget_;
        }
        shrink();
        return false;
    }

    // After spin() failed and the caller parked: it woke now because what it
    // waited for happened (not a timeout). A wake soon after the spin gave
    // up grows the budget to cover that wait, with a margin.
    void after_park() {
        if (!failed_at_ns_ || turn_ns_ <= 0) return;
        const int64_t waited = now_ns() - failed_at_ns_;
        failed_at_ns_ = 0;
        if (waited >= kCatchNs) return;
        const double want = (failed_budget_ + waited / turn_ns_) * 1.25;
        const uint32_t turns = want >= kMax ? kMax : static_cast<uint32_t>(want);
        if (turns > budget_) budget_ = turns;
    }

    uint32_t budget() const { return budget_; }

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
    uint32_t failed_budget_ = 0;
    int64_t failed_at_ns_ = 0;  // when the last spin gave up (0: it did not, or untimed)
    double turn_ns_ = 0;        // one turn's time, from the last timed spin
};

}  // namespace pyctx::core
