// Lifecycle promises around closing (reliability issue): calls that cannot
// be made on a library thread get a clear error, create is bounded, a long
// backlog is not "stuck", closing leaves nothing on stderr.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <thread>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct ShutdownAttempt {
    std::atomic<int> status{-1};
    std::atomic<int> state_after{-1};
    std::atomic<bool> done{false};
};

void try_shutdown(void *ud, uint64_t, pyctx_result_t *result) {
    auto *a = static_cast<ShutdownAttempt *>(ud);
    Error e(pyctx_shutdown(100));
    a->status.store(status_of(e.get()));
    a->state_after.store(pyctx_runtime_state());
    pyctx_result_free(result);
    a->done.store(true);
}

using GuardTest = ContextTest;
PYCTX_INSTANTIATE_FOR_BOTH_MODES(GuardTest);

TEST_P(GuardTest, ShutdownFromACompletionCallbackIsRefusedAndChangesNothing) {
    // On the context thread: a normal completion.
    ShutdownAttempt on_context;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "1", nullptr, nullptr, 0, 0, try_shutdown,
                                      &on_context, nullptr)));
    // On the service thread: a completion decided by a cancel.
    ShutdownAttempt on_service;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "while True: pass", nullptr, 0, try_shutdown,
                                      &on_service, &id)));
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx(), id)));
    for (ShutdownAttempt *a : {&on_context, &on_service}) {
        while (!a->done.load()) std::this_thread::yield();
        EXPECT_EQ(a->status.load(), PYCTX_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(a->state_after.load(), PYCTX_STATE_RUNNING);
    }
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_RUNNING);
    EXPECT_EQ(eval_int(ctx(), "2 + 2"), 4);  // still serving
}

TEST_P(GuardTest, CreateTimeoutInterruptsALongPreload) {
    ContextOptions options(pyctx_context_options_new());
    ASSERT_TRUE(IsOk(pyctx_context_options_set_mode(options.get(), mode())));
    ASSERT_TRUE(IsOk(pyctx_context_options_set_preload(options.get(), "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_context_options_set_create_timeout(options.get(), 200)));
    pyctx_context_t *raw = nullptr;
    Error e(pyctx_context_create(options.get(), &raw));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_TIMEOUT) << describe(e.get());
    EXPECT_EQ(raw, nullptr);
    // Creating contexts goes on working.
    Context next;
    ASSERT_TRUE(IsOk(create_context(next, mode())));
    EXPECT_EQ(eval_int(next.get(), "3 * 3"), 9);
}

TEST_P(GuardTest, ABacklogIsCompletedNotReportedStuck) {
    constexpr int kQueued = 300000;
    Collector done;  // counts completions
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "while True: pass", nullptr, 0, Collector::on_complete,
                                      &done, nullptr)));
    for (int i = 0; i < kQueued; ++i)
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "1", nullptr, nullptr, 0, 0, Collector::on_complete,
                                          &done, nullptr)));
    // A timeout Python needs to return from the interrupted loop, but far
    // less than completing 300,000 queued requests (and their callbacks).
    Error e(pyctx_context_close(ctx(), 300));
    EXPECT_EQ(status_of(e.get()), PYCTX_OK) << describe(e.get());
    ASSERT_TRUE(done.wait_for(kQueued + 1));
    size_t closed = 0;
    for (const Completion &c : done.all()) closed += c.status == PYCTX_ERR_CLOSED;
    EXPECT_EQ(closed, static_cast<size_t>(kQueued + 1));
}

// Runs `body` with fd 2 sent to a file; returns what was written there.
template <class F>
std::string capture_stderr(F &&body) {
    char path[] = "/tmp/pyctx-stderr-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    body();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string text;
    lseek(fd, 0, SEEK_SET);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    close(fd);
    unlink(path);
    return text;
}

TEST_P(GuardTest, ClosingWithCoroutinesInFlightPrintsNothing) {
    ASSERT_TRUE(exec(ctx(),
                     "import asyncio\n"
                     "async def nap():\n"
                     "    await asyncio.sleep(30)\n"
                     "async def spin():\n"
                     "    while True:\n"
                     "        await asyncio.sleep(0)\n")
                    .ok());
    Collector done;
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx(), "__main__", i % 2 ? "nap" : "spin", nullptr, 0,
                                          nullptr, 0, 0, Collector::on_complete, &done, nullptr)));
    // Coroutine requests still queued behind a busy one, too.
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "while True: pass", nullptr, 0, Collector::on_complete,
                                      &done, nullptr)));
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx(), "__main__", "nap", nullptr, 0, nullptr, 0, 0,
                                          Collector::on_complete, &done, nullptr)));
    std::string printed = capture_stderr([&] {
        Error e(pyctx_context_close(ctx(), 5000));
        EXPECT_EQ(status_of(e.get()), PYCTX_OK) << describe(e.get());
    });
    ASSERT_TRUE(done.wait_for(41));
    EXPECT_EQ(printed, "") << "close printed:\n" << printed;
}

TEST_P(GuardTest, ClosingAfterPythonStartedThreadsPrintsNothing) {
    // Threads Python made and finished: a plain thread, an executor pool,
    // and asyncio.run with run_in_executor (which also makes a dummy thread
    // entry for the pool's workers). Their teardown at close must not print
    // "Exception ignored in ..." or anything else.
    Outcome o = exec(ctx(),
                     "import threading, asyncio, concurrent.futures\n"
                     "box = []\n"
                     "t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()\n"
                     "with concurrent.futures.ThreadPoolExecutor(2) as pool:\n"
                     "    box.extend(pool.map(lambda x: x * 2, [1, 2, 3]))\n"
                     "async def main():\n"
                     "    loop = asyncio.get_running_loop()\n"
                     "    return await loop.run_in_executor(None, sum, [1, 2, 3])\n"
                     "box.append(asyncio.run(main()))\n");
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(eval_text(ctx(), "repr(box)"), "[1, 2, 4, 6, 6]");
    std::string printed = capture_stderr([&] {
        Error e(pyctx_context_close(ctx(), 10000));
        EXPECT_EQ(status_of(e.get()), PYCTX_OK) << describe(e.get());
    });
    EXPECT_EQ(printed, "") << "close printed:\n" << printed;
}

}  // namespace
