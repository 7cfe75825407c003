// Closing process contexts: a child stuck in Python returns within the
// timeout (interrupt, then SIGTERM, then SIGKILL) with the child reaped;
// create/close cycles leave no zombie and no descriptor behind; shutdown
// ends live process contexts.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

#include "pyctx.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/host.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

// The child creates this file right before it blocks (after any host call
// has returned, so the close meets it inside the blocking code).
std::string marker_path() {
    return "/tmp/pyctx-test-stuck-" + std::to_string(getpid());
}

struct StuckCase {
    const char *name;
    const char *code;
};

class ProcessStuckClose : public ::testing::TestWithParam<StuckCase> {};

bool wait_started() {
    auto until = Clock::now() + std::chrono::seconds(20);
    while (access(marker_path().c_str(), F_OK) != 0) {
        if (Clock::now() > until) return false;
        std::this_thread::yield();
    }
    unlink(marker_path().c_str());
    return true;
}

}  // namespace

TEST_P(ProcessStuckClose, ReturnsWithinTheTimeoutWithTheChildGone) {
    Context ctx;
    std::string preload = "import pyctx, signal, time, os\n"
                          "def started():\n"
                          "    open('" + marker_path() + "', 'w').close()\n";
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = preload.c_str()})));
    const uint64_t pid = child_pid(ctx.get());
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), GetParam().code, nullptr, PYCTX_NO_TIMEOUT,
                                      collector.fn(), collector.user_data(), nullptr)));
    ASSERT_TRUE(wait_started());
    constexpr uint32_t kTimeoutMs = 1500;
    auto t0 = Clock::now();
    Error e(pyctx_context_close(ctx.get(), kTimeoutMs));
    auto took = Clock::now() - t0;
    EXPECT_EQ(status_of(e.get()), PYCTX_OK) << describe(e.get());
    // Within the timeout, plus scheduling slack on a loaded machine.
    EXPECT_LT(took, std::chrono::milliseconds(kTimeoutMs + 3000));
    EXPECT_TRUE(reaped(pid));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CLOSED);
}

INSTANTIATE_TEST_SUITE_P(
    Ways, ProcessStuckClose,
    ::testing::Values(
        // Interrupted by the close's KeyboardInterrupt.
        StuckCase{"sleep", "started()\ntime.sleep(3600)"},
        // A blocking read in C (a pipe nobody writes): EINTR, then the handler.
        StuckCase{"read", "r, w = os.pipe()\nstarted()\nos.read(r, 1)"},
        // Swallows the interrupt: SIGTERM ends it.
        StuckCase{"swallows_interrupt",
                  "started()\nwhile True:\n    try:\n        time.sleep(3600)\n"
                  "    except KeyboardInterrupt:\n        pass"},
        // Ignores SIGTERM too: SIGKILL ends it.
        StuckCase{"ignores_sigterm",
                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nstarted()\n"
                  "while True:\n    try:\n        time.sleep(3600)\n"
                  "    except KeyboardInterrupt:\n        pass"}),
    [](const auto &info) { return std::string(info.param.name); });

TEST(ProcessCycles, NoZombieNoLeakedDescriptor) {
    int cycles = 20;
    if (const char *env = std::getenv("PYCTX_PROCESS_CYCLES")) cycles = std::atoi(env);
    // One context first, so whatever the library opens once is open already.
    {
        Context warm;
        ASSERT_TRUE(IsOk(create_process_context(warm)));
        ASSERT_TRUE(IsOk(pyctx_context_close(warm.get(), 5000)));
    }
    const int fds_before = open_fds();
    std::vector<uint64_t> pids;
    for (int i = 0; i < cycles; ++i) {
        Context ctx;
        ASSERT_TRUE(IsOk(create_process_context(ctx)));
        pids.push_back(child_pid(ctx.get()));
        if (i % 2 == 0) EXPECT_EQ(eval_int(ctx.get(), "40 + 2"), 42);
        if (i % 3 == 0) {
            ctx.reset();  // free without close: the child still ends
        } else {
            ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
        }
    }
    // A freed handle's context finishes in the background: give it its time.
    auto until = Clock::now() + std::chrono::seconds(30);
    auto all_reaped = [&] {
        for (uint64_t pid : pids)
            if (!reaped(pid)) return false;
        return true;
    };
    while (!all_reaped() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(all_reaped());
    EXPECT_EQ(zombie_children(), 0);
    while (open_fds() != fds_before && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(open_fds(), fds_before);
}
