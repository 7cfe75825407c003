// Process contexts when the child dies: every queued and running request,
// submitted from several threads, completes exactly once as crashed, with
// a message naming the signal or exit code; the host is untouched, the
// child reaped, and the context closed (no restart policy).
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct CrashCase {
    const char *name;
    const char *code;      // run in the child to end it (empty: kill -9 from here)
    const char *expected;  // in the crashed message
};

class ProcessCrash : public ::testing::TestWithParam<CrashCase> {};

constexpr int kThreads = 4;
constexpr int kPerThread = 100;

}  // namespace

TEST_P(ProcessCrash, EveryRequestInFlightCompletesOnceAsCrashed) {
    const CrashCase &cc = GetParam();
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(
        ctx, {.preload = "import ctypes, os, time\nstarted = False\n"})));
    const uint64_t pid = child_pid(ctx.get());
    ASSERT_NE(pid, 0u);

    Collector collector;
    // First a request that holds the child busy, so the rest pile up behind
    // it: some in the child's ring, most still in the host's queue.
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "time.sleep(0.2) or 1", nullptr, nullptr, 0,
                                      PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                      nullptr)));
    std::atomic<int> accepted{1};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                Error e(pyctx_eval_async(ctx.get(), "time.sleep(0.001) or 2", nullptr, nullptr, 0,
                                         PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                         nullptr));
                if (!e) accepted.fetch_add(1);
            }
        });
    }
    if (*cc.code) {
        ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), cc.code, nullptr, PYCTX_NO_TIMEOUT,
                                          collector.fn(), collector.user_data(), nullptr)));
        accepted.fetch_add(1);
    } else {
        ASSERT_EQ(kill(static_cast<pid_t>(pid), SIGKILL), 0);
    }
    for (auto &t : threads) t.join();
    const int n = accepted.load();
    ASSERT_TRUE(collector.wait_for(static_cast<size_t>(n))) << collector.count() << " of " << n;
    EXPECT_EQ(collector.duplicates(), 0u);
    EXPECT_EQ(collector.count(), static_cast<size_t>(n));
    int crashed = 0, ok = 0, other = 0;
    for (const Completion &c : collector.all()) {
        if (c.status == PYCTX_ERR_CRASHED) {
            ++crashed;
            // A sanitizer reports a segfault itself, then ends the child its way.
            const bool own_handler = kSanitized && std::string(cc.name) == "segfault";
            if (!own_handler)
                EXPECT_NE(c.message.find(cc.expected), std::string::npos) << c.message;
            EXPECT_NE(c.message.find(std::to_string(pid)), std::string::npos) << c.message;
        } else if (c.status == PYCTX_OK) {
            ++ok;
        } else {
            ++other;
            ADD_FAILURE() << "unexpected status " << pyctx_status_name(c.status) << ": " << c.message;
        }
    }
    // The crash took everything after it (and, for kill -9, the sleeper).
    EXPECT_GE(crashed, 1);
    EXPECT_EQ(crashed + ok + other, n);
    // No restart policy: the context is closed, the child reaped.
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
    EXPECT_EQ(eval(ctx.get(), "1").status(), PYCTX_ERR_CLOSED);
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_TRUE(reaped(pid));
    // The host runs on: another context works.
    Context next;
    ASSERT_TRUE(IsOk(create_process_context(next)));
    EXPECT_EQ(eval_int(next.get(), "2 + 3"), 5);
}

INSTANTIATE_TEST_SUITE_P(
    Ways, ProcessCrash,
    ::testing::Values(CrashCase{"segfault", "ctypes.string_at(0)", "signal 11"},
                      CrashCase{"abort", "os.abort()", "signal 6"},
                      CrashCase{"exit", "os._exit(3)", "exited with code 3"},
                      CrashCase{"kill", "", "signal 9"}),
    [](const auto &info) { return std::string(info.param.name); });

TEST(ProcessCrashSync, ASyncCallerSeesCrashed) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    Outcome o = exec(ctx.get(), "import os; os._exit(7)");
    ASSERT_EQ(o.status(), PYCTX_ERR_CRASHED) << o.describe();
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("exited with code 7"),
              std::string::npos);
}
