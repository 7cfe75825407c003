// Process contexts, step 3: the restart policy (within its budget a new
// child takes over, the preload runs again, envs of the dead child fail as
// closed; beyond it the context closes), the memory cap (RLIMIT_AS) and
// the child's pid and restart count.
#include <gtest/gtest.h>

#include <string>

#include "pyctx.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

TEST(ProcessRestart, WithinTheBudgetThenClosedBeyondIt) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(
        ctx, {.preload = "import os\nloaded = os.getpid()\n", .restart_max = 2,
              .restart_window_ms = 600000})));
    uint64_t first = child_pid(ctx.get());
    EXPECT_EQ(restarts_of(ctx.get()), 0u);
    pyctx_env_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx.get(), &raw)));
    Env old_env(raw);
    EXPECT_TRUE(exec(ctx.get(), "kept = 1", old_env.get()).ok());

    // Crash 1: the request crashes; a new child serves what follows.
    Outcome o = exec(ctx.get(), "os._exit(5)");
    ASSERT_EQ(o.status(), PYCTX_ERR_CRASHED) << o.describe();
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("exited with code 5"),
              std::string::npos);
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 0);
    // The next request waits for the new child.
    EXPECT_EQ(eval_int(ctx.get(), "1"), 1);
    uint64_t second = child_pid(ctx.get());
    EXPECT_NE(second, first);
    EXPECT_TRUE(reaped(first));
    EXPECT_EQ(restarts_of(ctx.get()), 1u);
    // The preload ran again, in the new child.
    EXPECT_EQ(eval_int(ctx.get(), "loaded"), static_cast<int64_t>(second));
    // The env belonged to the dead child: closed, never a fresh namespace.
    EXPECT_EQ(eval(ctx.get(), "kept", old_env.get()).status(), PYCTX_ERR_CLOSED);
    // A new env works.
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx.get(), &raw)));
    Env new_env(raw);
    EXPECT_TRUE(exec(ctx.get(), "kept = 2", new_env.get()).ok());
    EXPECT_EQ(eval_int(ctx.get(), "kept", new_env.get()), 2);

    // Requests queued behind a crash wait for the next child.
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), "import time; time.sleep(0.05); os.abort()",
                                      nullptr, PYCTX_NO_TIMEOUT, collector.fn(),
                                      collector.user_data(), nullptr)));
    uint64_t after = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "loaded", nullptr, nullptr, 0, PYCTX_NO_TIMEOUT,
                                      collector.fn(), collector.user_data(), &after)));
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.duplicates(), 0u);
    auto later = collector.find(after);
    ASSERT_TRUE(later);
    // Either it was already in the dead child (crashed) or it ran in the next.
    if (later->status == PYCTX_OK) {
        EXPECT_NE(*as_int(later->value.data(), later->value.size()), static_cast<int64_t>(second));
    } else {
        EXPECT_EQ(later->status, PYCTX_ERR_CRASHED) << later->message;
    }
    EXPECT_EQ(eval_int(ctx.get(), "2"), 2);
    EXPECT_EQ(restarts_of(ctx.get()), 2u);

    // Crash 3: beyond the budget, the context closes.
    o = exec(ctx.get(), "os._exit(9)");
    ASSERT_EQ(o.status(), PYCTX_ERR_CRASHED);
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("budget"), std::string::npos);
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
    EXPECT_EQ(eval(ctx.get(), "1").status(), PYCTX_ERR_CLOSED);
    EXPECT_EQ(child_pid(ctx.get()), 0u);
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_EQ(zombie_children(), 0);
}

TEST(ProcessRestart, AWindowForgetsOldCrashes) {
    Context ctx;
    // One restart per window of 1 ms: each crash finds the previous one
    // outside the window, so the context keeps coming back.
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.restart_max = 1, .restart_window_ms = 1})));
    for (int i = 0; i < 3; ++i) {
        uint64_t before = child_pid(ctx.get());
        ASSERT_EQ(exec(ctx.get(), "import os; os._exit(1)").status(), PYCTX_ERR_CRASHED);
        EXPECT_EQ(eval_int(ctx.get(), "7"), 7);
        EXPECT_NE(child_pid(ctx.get()), before);
    }
    EXPECT_EQ(restarts_of(ctx.get()), 3u);
}

TEST(ProcessMemoryCap, AllocationBeyondTheCapRaisesMemoryError) {
    if (kSanitized) GTEST_SKIP() << "a sanitizer's shadow memory needs more address space than any cap";
    Context ctx;
    // Above what the interpreter itself reserves at start.
    constexpr size_t kCap = size_t{512} << 20;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.memory_limit = kCap})));
    Outcome o = eval(ctx.get(), "len(bytearray(1 << 30))");
    ASSERT_EQ(o.status(), PYCTX_ERR_PYTHON) << o.describe();
    EXPECT_TRUE(RaisesPython(o.error.get(), "MemoryError"));
    // The child keeps serving after the MemoryError.
    EXPECT_EQ(eval_int(ctx.get(), "len(bytearray(1 << 20))"), 1 << 20);
    EXPECT_EQ(eval_int(ctx.get(),
                       "__import__('resource').getrlimit(__import__('resource').RLIMIT_AS)[0]"),
              static_cast<int64_t>(kCap));
    EXPECT_EQ(stats_of(ctx.get()).memory_limit, kCap);
}

TEST(ProcessMemoryCap, AChildKilledUnderTheCapNamesIt) {
    if (kSanitized) GTEST_SKIP() << "a sanitizer's shadow memory needs more address space than any cap";
    Context ctx;
    constexpr size_t kCap = size_t{512} << 20;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.memory_limit = kCap})));
    // A C library that aborts when an allocation fails, as many do.
    Outcome o = exec(ctx.get(),
                     "import ctypes, os\n"
                     "libc = ctypes.CDLL(None)\n"
                     "libc.malloc.restype = ctypes.c_void_p\n"
                     "if not libc.malloc(1 << 30):\n"
                     "    os.abort()\n");
    ASSERT_EQ(o.status(), PYCTX_ERR_CRASHED) << o.describe();
    std::string msg = pyctx_error_message(o.error.get());
    EXPECT_NE(msg.find("signal 6"), std::string::npos) << msg;
    EXPECT_NE(msg.find("memory cap"), std::string::npos) << msg;
}
