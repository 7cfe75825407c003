// Shutdown and close with stuck Python (reliability issue): a stuck owngil
// teardown does not block later creates, shutdown has one deadline however
// many contexts are stuck, and it names what still runs.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

namespace {

// This binary ends with stuck contexts: its final shutdown happens in the
// last test, which checks it; the environment then finds it stopped.
auto *const g_runtime = [] {
    auto *env = install_runtime();
    env->expect_shutdown_status(PYCTX_ERR_NOT_RUNNING);
    return env;
}();

const char kForeverThread[] =
    "import threading\n"
    "threading.Thread(target=threading.Event().wait, name='forever', daemon=False).start()\n";

TEST(ShutdownStuck, AStuckOwngilTeardownDoesNotBlockLaterCreates) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    Context stuck;
    ASSERT_TRUE(IsOk(create_context(stuck, PYCTX_MODE_OWNGIL, "stuck-owngil")));
    ASSERT_TRUE(exec(stuck.get(), kForeverThread).ok());
    Error closed(pyctx_context_close(stuck.get(), 300));
    EXPECT_EQ(status_of(closed.get()), PYCTX_ERR_STUCK) << describe(closed.get());
    // The stuck teardown waits for its thread without holding the lock that
    // creating and ending interpreters share: new owngil contexts still come.
    for (int i = 0; i < 3; ++i) {
        Context next;
        ASSERT_TRUE(IsOk(create_context(next, PYCTX_MODE_OWNGIL)));
        EXPECT_EQ(eval_int(next.get(), "40 + 2"), 42);
        EXPECT_TRUE(IsOk(pyctx_context_close(next.get(), 5000)));
    }
}

TEST(ShutdownStuck, OneDeadlineForManyStuckContextsAndTheReportNamesThem) {
    Collector done;
    std::vector<Context> stuck(4);
    for (size_t i = 0; i < stuck.size(); ++i) {
        std::string name = "sleeper-" + std::to_string(i);
        ASSERT_TRUE(IsOk(create_context(stuck[i], PYCTX_MODE_WORKER, name.c_str())));
        // A blocking C call: the interrupt cannot stop it.
        ASSERT_TRUE(IsOk(pyctx_exec_async(stuck[i].get(), "import time\ntime.sleep(3600)", nullptr,
                                          0, Collector::on_complete, &done, nullptr)));
    }
    for (auto &c : stuck)
        while (stats_of(c.get()).queue_depth != 0) std::this_thread::yield();
    const uint32_t timeout_ms = 1000;
    auto start = std::chrono::steady_clock::now();
    Error e(pyctx_shutdown(timeout_ms));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_STUCK);
    std::string message = pyctx_error_message(e.get());
    for (size_t i = 0; i < stuck.size(); ++i)
        EXPECT_NE(message.find("sleeper-" + std::to_string(i)), std::string::npos) << message;
    // One deadline: far below the 4 x timeout that closing them one by one takes.
    EXPECT_LT(took, std::chrono::milliseconds(3 * timeout_ms));
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);
    // Every request completed all the same.
    ASSERT_TRUE(done.wait_for(stuck.size()));
    for (const Completion &c : done.all()) EXPECT_EQ(c.status, PYCTX_ERR_CLOSED);
}

}  // namespace
