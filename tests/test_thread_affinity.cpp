// Each context owns one OS thread for its whole life: every request of a
// context runs on the same native thread, and different contexts use
// different threads -- in both modes, for sync and async requests.
#include <gtest/gtest.h>

#include <set>

#include "pyctx.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {
constexpr const char *kNativeId = "__import__('threading').get_native_id()";
constexpr int kRequests = 100;
} // namespace

class AffinityTest : public ModeTest {};

TEST_P(AffinityTest, SyncRequestsAlwaysRunOnTheContextThread) {
    Context a, b;
    ASSERT_TRUE(IsOk(create_context(a, mode())));
    ASSERT_TRUE(IsOk(create_context(b, mode())));
    const int64_t a_thread = static_cast<int64_t>(stats_of(a.get()).thread_id);
    const int64_t b_thread = static_cast<int64_t>(stats_of(b.get()).thread_id);

    std::set<int64_t> seen_a, seen_b;
    for (int i = 0; i < kRequests; ++i) {
        seen_a.insert(eval_int(a.get(), kNativeId).value_or(-1));
        seen_b.insert(eval_int(b.get(), kNativeId).value_or(-1));
    }
    ASSERT_EQ(seen_a.size(), 1u);
    ASSERT_EQ(seen_b.size(), 1u);
    EXPECT_EQ(*seen_a.begin(), a_thread);
    EXPECT_EQ(*seen_b.begin(), b_thread);
    EXPECT_NE(a_thread, b_thread);
    // Python never runs on the caller's thread.
    EXPECT_NE(a_thread, current_tid());
    EXPECT_NE(b_thread, current_tid());
}

TEST_P(AffinityTest, AsyncRequestsAndCallsShareTheSameThread) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    const int64_t thread = static_cast<int64_t>(stats_of(ctx.get()).thread_id);

    Collector collector;
    Watchdog guard;
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx.get(), "threading", "get_native_id", nullptr, 0,
                                          nullptr, 0, 0, collector.fn(), collector.user_data(),
                                          nullptr)));
    }
    ASSERT_TRUE(collector.wait_for(kRequests));
    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        EXPECT_EQ(as_int(c.value.data(), c.value.size()), thread);
    }
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(AffinityTest);

TEST(Affinity, WorkerAndOwngilContextsUseDistinctThreads) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    Context worker, owngil;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(IsOk(create_context(owngil, PYCTX_MODE_OWNGIL)));
    auto w = eval_int(worker.get(), kNativeId);
    auto o = eval_int(owngil.get(), kNativeId);
    ASSERT_TRUE(w && o);
    EXPECT_NE(*w, *o);
}
