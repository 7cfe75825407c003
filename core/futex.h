// Parking a thread on a 32-bit atomic word. On Linux this is the futex
// syscall directly: std::atomic::wait in libstdc++ adds a waiter table and
// its own spinning, and cannot time out, both of which we need to control.
#pragma once

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
    template <class Pred>
    bool spin(Pred &&pred) {
        uint32_t budget = budget_.load(std::memory_order_relaxed);
        for (uint32_t i = 0; i < budget; ++i) {
            if (pred()) {
                grow();
                return true;
            }
            cpu_relax();
        }
        if (pred()) return true;
        shrink();
        return false;
    }

private:
    void grow() {
        uint32_t b = budget_.load(std::memory_order_relaxed);
        if (b < kMax) budget_.store(b + (b >> 3) + 1, std::memory_order_relaxed);
    }
    void shrink() {
        uint32_t b = budget_.load(std::memory_order_relaxed);
        if (b > kMin) budget_.store(b >> 1, std::memory_order_relaxed);
    }
    std::atomic<uint32_t> budget_;
};

}  // namespace pyctx::core
