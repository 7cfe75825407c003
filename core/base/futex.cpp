#include "core/base/futex.h"

#include <cerrno>
#include <climits>
#include <ctime>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <thread>
#endif

namespace pyctx::core {

#if defined(__linux__)
static uint32_t *addr(std::atomic<uint32_t> &word) {
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
    return reinterpret_cast<uint32_t *>(&word);
}

static bool wait_op(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns, int op) {
    struct timespec ts;
    struct timespec *tsp = nullptr;
    if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, addr(word), op, expected, tsp, nullptr, 0);
    return !(rc == -1 && errno == ETIMEDOUT);
}

bool futex_wait(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns) {
    return wait_op(word, expected, timeout_ns, FUTEX_WAIT_PRIVATE);
}

bool futex_wait_shared(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns) {
    return wait_op(word, expected, timeout_ns, FUTEX_WAIT);
}

void futex_wake_shared(std::atomic<uint32_t> &word, int count) {
    syscall(SYS_futex, addr(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t> &word, int count) {
    syscall(SYS_futex, addr(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t> &word) { futex_wake(word, INT_MAX); }
#else
// Portable fallback: a short sleep loop. Correct, not fast.
bool futex_wait(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns) {
    auto deadline = now_ns() + (timeout_ns < 0 ? INT64_MAX / 2 : timeout_ns);
    while (word.load() == expected) {
        if (now_ns() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
}
void futex_wake(std::atomic<uint32_t> &, int) {}
void futex_wake_all(std::atomic<uint32_t> &) {}
bool futex_wait_shared(std::atomic<uint32_t> &word, uint32_t expected, int64_t timeout_ns) {
    return futex_wait(word, expected, timeout_ns);
}
void futex_wake_shared(std::atomic<uint32_t> &, int) {}
#endif

}  // namespace pyctx::core
