// owngil contexts run pure-Python work in parallel: the same CPU-bound work
// on two owngil contexts at once must take clearly less wall time than twice
// on one context (a ratio with a generous margin: the CI machine has 2 cores).
//
// The machine is shared, so other processes can take the second core away;
// the kernel's scheduler statistics tell the two cases apart. During the
// parallel phase both context threads must be runnable (on a CPU or waiting
// for one) nearly all the time: they never block on each other. And when the
// ratio is missed, the threads must demonstrably have waited for a CPU (the
// machine was busy), not for each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

constexpr double kMaxRatio = 0.8;        // parallel wall / sequential wall
constexpr double kMinRunnable = 0.93;    // share of its span a thread is runnable
constexpr double kBusyMachine = 0.2;     // share of its span spent waiting for a CPU
constexpr const char *kSpin =
    "def spin(n):\n"
    "    x = 0\n"
    "    for i in range(n):\n"
    "        x += i\n"
    "    return x\n";

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

/** A thread's CPU time and run-queue wait, from /proc (nanoseconds). */
struct SchedStat {
    bool ok = false;
    double on_cpu = 0, waiting = 0;
};

SchedStat sched_of(uint64_t tid) {
    SchedStat s;
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/schedstat");
    unsigned long long run = 0, wait = 0;
    if (f >> run >> wait) {
        s.ok = true;
        s.on_cpu = run / 1e9;
        s.waiting = wait / 1e9;
    }
    return s;
}

/** One spin(n) call on `ctx`, checking its value. */
void spin(pyctx_context_t *ctx, int64_t n) {
    Outcome r = call(ctx, "__main__", "spin", cbor_array(n));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), n * (n - 1) / 2);
}

/** Iterations for ~0.4 s of work on this machine. */
int64_t calibrate(pyctx_context_t *ctx) {
    const int64_t probe = 300000;
    auto t0 = Clock::now();
    spin(ctx, probe);
    double t = std::max(seconds_since(t0), 1e-4);
    return std::clamp<int64_t>(static_cast<int64_t>(probe * 0.4 / t), probe, 200000000);
}

struct Timing {
    double sequential = 0, parallel = 0;
    bool sched_ok = false;
    double runnable_a = 0, runnable_b = 0; // share of the parallel phase
    double cpu_wait_a = 0, cpu_wait_b = 0; // share spent waiting for a CPU
    double ratio() const { return parallel / sequential; }
    double min_runnable() const { return std::min(runnable_a, runnable_b); }
    double max_cpu_wait() const { return std::max(cpu_wait_a, cpu_wait_b); }
};

Timing measure(pyctx_context_t *a, pyctx_context_t *b, int64_t n) {
    const uint64_t tid_a = stats_of(a).thread_id, tid_b = stats_of(b).thread_id;
    Timing t;
    auto t0 = Clock::now();
    spin(a, n);
    spin(a, n);
    t.sequential = seconds_since(t0);
    SchedStat a1 = sched_of(tid_a), b1 = sched_of(tid_b);

    t0 = Clock::now();
    double span_b = 0;
    std::thread other([&] {
        spin(b, n);
        span_b = seconds_since(t0);
    });
    spin(a, n);
    const double span_a = seconds_since(t0);
    other.join();
    t.parallel = seconds_since(t0);
    SchedStat a2 = sched_of(tid_a), b2 = sched_of(tid_b);

    t.sched_ok = a1.ok && a2.ok && b1.ok && b2.ok;
    if (t.sched_ok) {
        // Runnable = on a CPU or waiting for one, over the time until that
        // thread's own request returned (an idle context thread sleeps).
        double busy_a = (a2.on_cpu - a1.on_cpu) + (a2.waiting - a1.waiting);
        double busy_b = (b2.on_cpu - b1.on_cpu) + (b2.waiting - b1.waiting);
        t.runnable_a = busy_a / span_a;
        t.runnable_b = busy_b / span_b;
        t.cpu_wait_a = (a2.waiting - a1.waiting) / span_a;
        t.cpu_wait_b = (b2.waiting - b1.waiting) / span_b;
    }
    return t;
}

} // namespace

TEST(Parallelism, TwoOwngilContextsBeatOneContextTwice) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs at least 2 cores";
    Watchdog guard(std::chrono::seconds(60));

    Context a, b;
    ASSERT_TRUE(IsOk(create_context(a, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(IsOk(create_context(b, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(exec(a.get(), kSpin).ok());
    ASSERT_TRUE(exec(b.get(), kSpin).ok());
    const int64_t n = calibrate(a.get());

    double best_ratio = 1e9;
    Timing best; // the attempt with the most evidence of running side by side
    auto convinced = [&] {
        return best_ratio < kMaxRatio && (!best.sched_ok || best.min_runnable() > kMinRunnable);
    };
    for (int attempt = 0; attempt < 3 && !convinced(); ++attempt) {
        Timing t = measure(a.get(), b.get(), n);
        ASSERT_FALSE(HasFailure());
        std::printf("owngil: sequential %.3f s, parallel %.3f s, ratio %.2f; runnable %.2f / %.2f, "
                    "waiting for a CPU %.2f / %.2f\n",
                    t.sequential, t.parallel, t.ratio(), t.runnable_a, t.runnable_b, t.cpu_wait_a,
                    t.cpu_wait_b);
        best_ratio = std::min(best_ratio, t.ratio());
        if (attempt == 0 || t.min_runnable() > best.min_runnable()) best = t;
    }
    RecordProperty("best_ratio", std::to_string(best_ratio));

    if (!best.sched_ok) {
        // No /proc schedstat: only the wall-clock ratio is available.
        EXPECT_LT(best_ratio, kMaxRatio) << "two owngil contexts did not run in parallel";
        return;
    }
    EXPECT_GT(best.min_runnable(), kMinRunnable)
        << "a context thread was blocked (not waiting for a CPU) while both had work: "
           "the contexts serialized";
    if (best_ratio >= kMaxRatio) {
        EXPECT_GT(best.max_cpu_wait(), kBusyMachine)
            << "no speedup (best ratio " << best_ratio
            << ") although the threads hardly waited for a CPU";
        std::printf("no speedup measurable: other processes held the CPUs (ratio %.2f)\n",
                    best_ratio);
    }
}
