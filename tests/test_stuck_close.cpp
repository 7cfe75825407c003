// Closing a context whose Python does not return: an interruptible loop is
// interrupted and the thread exits; a blocking C call (time.sleep) makes
// close report PYCTX_ERR_STUCK in bounded time, after which freeing the
// handle is safe. A stuck context pins Python, so runtime shutdown reports
// STUCK too: hence this binary of its own.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "pyctx.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

bool thread_alive(uint64_t tid) {
    struct stat st;
    return ::stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

/** The kernel reaps an exited thread shortly after it returns; nothing
 *  notifies us of that, so poll its /proc entry with a bound. */
bool thread_gone_within(uint64_t tid, std::chrono::milliseconds bound) {
    auto deadline = Clock::now() + bound;
    while (thread_alive(tid)) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

/** True once thread `tid` is blocked in system call `nr`. Signalling from
 *  Python before the blocking call would race with the interrupt (it could
 *  land before the call starts), and nothing notifies us when a thread
 *  enters a system call, so poll the kernel's view with a bound. */
bool blocked_in_syscall(uint64_t tid, long nr, std::chrono::milliseconds bound) {
    auto deadline = Clock::now() + bound;
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/syscall";
    while (Clock::now() < deadline) {
        std::ifstream f(path);
        long current = -1;
        if (f >> current && current == nr) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

} // namespace

class StuckCloseTest : public ModeTest {};

TEST_P(StuckCloseTest, BusyLoopIsInterruptedAndTheThreadExits) {
    Watchdog guard;
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    const uint64_t tid = stats_of(ctx.get()).thread_id;
    ASSERT_TRUE(thread_alive(tid));

    Gate spin;
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), spin.py_spin().c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(spin.wait_started());

    auto t0 = Clock::now();
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5)) << "close overran its timeout";
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CLOSED);
    EXPECT_TRUE(thread_gone_within(tid, std::chrono::seconds(5)))
        << "context thread " << tid << " still exists after close returned OK";
}

TEST_P(StuckCloseTest, BlockingCallReportsStuckAndFreeIsSafe) {
    Watchdog guard;
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    const uint64_t tid = stats_of(ctx.get()).thread_id;

    Gate started;
    Collector collector;
    std::string code = "import time\n" + started.py_signal_started() + "\ntime.sleep(3600)\n";
    uint64_t running = 0, queued = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), code.c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), &running)));
    ASSERT_TRUE(started.wait_started());
    ASSERT_TRUE(blocked_in_syscall(tid, SYS_clock_nanosleep, std::chrono::seconds(10)))
        << "the context thread never blocked in time.sleep";
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "1", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &queued)));

    // From here on the runtime cannot finalize Python any more.
    g_runtime->expect_shutdown_status(PYCTX_ERR_STUCK);
    g_runtime->set_shutdown_timeout_ms(500);
    auto t0 = Clock::now();
    Error e(pyctx_context_close(ctx.get(), 200));
    auto took = Clock::now() - t0;
    if (status_of(e.get()) != PYCTX_ERR_STUCK) {
        for (const Completion &c : collector.all())
            ADD_FAILURE() << "request " << c.request_id << " completed "
                          << pyctx_status_name(c.status) << " " << c.python_type << " " << c.message;
    }
    ASSERT_EQ(status_of(e.get()), PYCTX_ERR_STUCK) << describe(e.get());
    EXPECT_STRNE(pyctx_error_message(e.get()), "");
    EXPECT_LT(took, std::chrono::seconds(5)) << "close(200 ms) took far longer";

    // Every request has completed, the handle reports closed, and the thread
    // is left alone (it is still sleeping).
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.find(running)->status, PYCTX_ERR_CLOSED);
    EXPECT_EQ(collector.find(queued)->status, PYCTX_ERR_CLOSED);
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
    EXPECT_EQ(eval(ctx.get(), "1").status(), PYCTX_ERR_CLOSED);
    EXPECT_TRUE(thread_alive(tid));
    // Closing again still reports the stuck thread (or that it is closed).
    Error again(pyctx_context_close(ctx.get(), 50));
    EXPECT_TRUE(status_of(again.get()) == PYCTX_ERR_STUCK || !again) << describe(again.get());

    ctx.reset(); // pyctx_context_free while the thread is pinned: ASan checks

    // Other contexts are unaffected.
    Context next;
    ASSERT_TRUE(IsOk(create_context(next, mode())));
    EXPECT_EQ(eval_int(next.get(), "21 * 2"), 42);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(StuckCloseTest);
