// Calibration: what a cross-thread round trip costs on this machine with no
// pyctx and no Python involved, so that pyctx's figures can be read as
// multiples of the machine's own handoff limits (and compared across
// machines). A caller thread hands a sequence number to a server thread,
// which hands it back; each waits for the other in one of four ways:
//
//   spin                both sides busy-wait on an atomic word (the floor)
//   spin then futex     busy-wait up to --spin-ns, then park on a futex; the
//                       poster makes the wake syscall only when the peer
//                       announced that it parked (what an adaptive spinner
//                       costs when its budget suffices)
//   futex, both parked  each side parks at once: every handoff is a wake
//                       syscall plus a scheduler wake-up (what a handoff
//                       costs once nobody spins)
//   condvar             std::mutex + std::condition_variable, for reference
//
// plus "clock floor", an empty request: what the per-request clock reads
// of the latency loop cost by themselves. Every case is timed by the same
// loop as pyctx's round trip (bench_stats.hpp: p50, p99, round trips/s).
//
// usage: bench_handoff [--calls N] [--park-calls N] [--spin-ns N]
#include "bench_stats.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

void futex_wait(std::atomic<uint32_t> &word, uint32_t expected) {
    syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void futex_wake(std::atomic<uint32_t> &word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

enum class How { spin, spin_then_park, park };

// One direction of the handoff: a sequence number that only one thread
// advances (by one), and a flag its waiter raises before parking. Both in
// one cache line, away from the other direction's.
struct alignas(64) Word {
    std::atomic<uint32_t> seq{0};
    std::atomic<uint32_t> parked{0};
};

// Publishes `value`. The store and the load of `parked` are seq_cst, as
// are the waiter's store of `parked` and load of `seq`: of the two, at
// least one sees the other's write, so a parked waiter is always woken.
void post(Word &w, uint32_t value, How how) {
    w.seq.store(value, std::memory_order_seq_cst);
    if (how != How::spin && w.parked.load(std::memory_order_seq_cst) != 0) futex_wake(w.seq);
}

// Waits until `w.seq == want` (it is `want - 1` until then). Returns
// whether it parked.
bool wait_for(Word &w, uint32_t want, How how, int64_t spin_ns) {
    if (how == How::spin) {
        for (uint32_t i = 1; w.seq.load(std::memory_order_acquire) != want; ++i) {
            cpu_relax();
            // After ~1024 pauses (tens of µs; with the peer on another CPU
            // the answer comes long before) the peer is not running: both
            // threads share one CPU of an overloaded machine. Let it run
            // rather than spin out the time slice.
            if ((i & 1023) == 0) sched_yield();
        }
        return false;
    }
    if (how == How::spin_then_park) {
        const int64_t deadline = bench::now_ns() + spin_ns;
        for (uint32_t i = 1;; ++i) {
            if (w.seq.load(std::memory_order_acquire) == want) return false;
            cpu_relax();
            if ((i & 63) == 0 && bench::now_ns() >= deadline) break;
        }
    }
    w.parked.store(1, std::memory_order_seq_cst);
    while (w.seq.load(std::memory_order_seq_cst) != want) futex_wait(w.seq, want - 1);
    w.parked.store(0, std::memory_order_relaxed);
    return true;
}

// Runs one atomic-word handoff case; emits its figures and, for the
// parking kinds, how many of the 2 waits per round trip parked.
void bench_word(const std::string &case_name, How how, long calls, int64_t spin_ns) {
    Word request, response;
    std::atomic<bool> stop{false};
    long server_parks = 0;
    std::thread server([&] {
        for (uint32_t n = 1;; ++n) {
            server_parks += wait_for(request, n, how, spin_ns);
            if (stop.load(std::memory_order_relaxed)) return;
            post(response, n, how);
        }
    });
    uint32_t n = 0;
    long caller_parks = 0, round_trips = 0;
    bench::LoopFigures f = bench::measure_loop(calls, [&] {
        ++n;
        post(request, n, how);
        caller_parks += wait_for(response, n, how, spin_ns);
        ++round_trips;
    });
    stop.store(true, std::memory_order_relaxed);
    post(request, n + 1, how);
    server.join();
    bench::emit_loop("handoff", case_name, "threads", f, nullptr);
    if (how != How::spin)
        bench::emit_line("handoff", case_name, "threads", "parks_per_round_trip",
                         static_cast<double>(caller_parks + server_parks) /
                             static_cast<double>(round_trips),
                         "1", nullptr);
}

void bench_condvar(long calls) {
    std::mutex mu;
    std::condition_variable request_cv, response_cv;
    uint64_t request = 0, response = 0;
    bool stop = false;
    std::thread server([&] {
        std::unique_lock lock(mu);
        uint64_t seen = 0;
        for (;;) {
            request_cv.wait(lock, [&] { return request != seen; });
            seen = request;
            if (stop) return;
            response = seen;
            lock.unlock();
            response_cv.notify_one();
            lock.lock();
        }
    });
    bench::LoopFigures f = bench::measure_loop(calls, [&] {
        uint64_t mine;
        {
            std::lock_guard lock(mu);
            mine = ++request;
        }
        request_cv.notify_one();
        std::unique_lock lock(mu);
        response_cv.wait(lock, [&] { return response == mine; });
    });
    {
        std::lock_guard lock(mu);
        stop = true;
        ++request;
    }
    request_cv.notify_one();
    server.join();
    bench::emit_loop("handoff", "condvar", "threads", f, nullptr);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const long calls = args.get_int("--calls", 200000);
    const long park_calls = args.get_int("--park-calls", 20000);
    const long spin_ns = args.get_int("--spin-ns", 20000);
    args.finish();
    if (calls < 1 || park_calls < 1) bench::die("counts must be >= 1");

    // An empty request: what the latency loop's own clock reads cost.
    // (Its rate says nothing, so only the latencies are printed.)
    volatile long sink = 0;
    bench::LoopFigures clock = bench::measure_loop(calls, [&] { sink = sink + 1; });
    bench::emit_line("handoff", "clock floor (empty request)", "threads", "p50_ns", clock.p50_ns,
                     "ns", nullptr);
    bench::emit_line("handoff", "clock floor (empty request)", "threads", "p99_ns", clock.p99_ns,
                     "ns", nullptr);
    bench_word("spin", How::spin, calls, spin_ns);
    bench_word("spin then futex", How::spin_then_park, calls, spin_ns);
    bench::emit_line("handoff", "spin then futex", "threads", "spin_budget_ns",
                     static_cast<double>(spin_ns), "ns", nullptr);
    bench_word("futex, both parked", How::park, park_calls, spin_ns);
    bench_condvar(park_calls);
    return 0;
}
