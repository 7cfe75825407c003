// Shutdown returns within its timeout when Python started a non-daemon
// thread that never ends (finalization would join it forever), and names
// that thread (reliability issue).
#include <gtest/gtest.h>

#include <string>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

namespace {

auto *const g_runtime = [] {
    auto *env = install_runtime();
    env->expect_shutdown_status(PYCTX_ERR_NOT_RUNNING);  // the test shuts down itself
    return env;
}();

TEST(ShutdownThreads, ANonDaemonThreadMakesShutdownReportStuckInsteadOfHanging) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(exec(ctx.get(),
                     "import threading\n"
                     "threading.Thread(target=threading.Event().wait, name='never-ends',\n"
                     "                 daemon=False).start()\n")
                    .ok());
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));  // the context itself is done
    Error e(pyctx_shutdown(500));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_STUCK) << describe(e.get());
    EXPECT_NE(std::string(pyctx_error_message(e.get())).find("never-ends"), std::string::npos)
        << pyctx_error_message(e.get());
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);
}

}  // namespace
