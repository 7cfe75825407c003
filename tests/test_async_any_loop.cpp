// `await pyctx.async_call(...)` from any asyncio loop: a user's own
// asyncio.run() inside a request (which used to fail with "Future attached
// to a different loop"), on a Python thread of its own, with answers given
// at once or later from another thread, many at a time, and cancelled.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/host.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

// Answers n * 10 right away, inside the call.
void times_ten_now(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    answer_int(call, args && args->size() == 1 ? (*args)[0] * 10 : -1);
}

// Keeps calls for the test to answer later, from its own thread.
struct Held {
    std::mutex mu;
    std::deque<pyctx_host_call_t *> calls;
    Counter arrived;
};

void hold(void *ud, pyctx_host_call_t *call) {
    auto *h = static_cast<Held *>(ud);
    {
        std::lock_guard<std::mutex> lock(h->mu);
        h->calls.push_back(call);
    }
    h->arrived.add();
}

pyctx_host_call_t *take(Held &h, bool newest = false) {
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.calls.empty()) return nullptr;
    pyctx_host_call_t *c = newest ? h.calls.back() : h.calls.front();
    if (newest) h.calls.pop_back(); else h.calls.pop_front();
    return c;
}

constexpr const char *kPreload =
    "import asyncio, pyctx, threading\n"
    "async def one(name, n):\n"
    "    return await pyctx.async_call(name, n)\n"
    "def own_loop(name, n):\n"
    "    return asyncio.run(one(name, n))\n"
    "def own_loop_many(name, k):\n"
    "    async def main():\n"
    "        return await asyncio.gather(*(pyctx.async_call(name, i) for i in range(k)))\n"
    "    return asyncio.run(main())\n"
    "def own_loop_cancel(name):\n"
    "    async def main():\n"
    "        t = asyncio.ensure_future(pyctx.async_call(name, 1))\n"
    "        await asyncio.sleep(0)\n"
    "        t.cancel()\n"
    "        try:\n"
    "            await t\n"
    "        except asyncio.CancelledError:\n"
    "            return 'cancelled'\n"
    "        return 'not cancelled'\n"
    "    return asyncio.run(main())\n"
    "def thread_loop(name, n):\n"
    "    out = []\n"
    "    t = threading.Thread(target=lambda: out.append(asyncio.run(one(name, n))))\n"
    "    t.start(); t.join()\n"
    "    return out[0]\n";

class AnyLoop : public ::testing::TestWithParam<pyctx_mode> {
protected:
    void SetUp() override {
        if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported()) GTEST_SKIP();
        ContextSpec spec;
        spec.mode = GetParam();
        spec.preload = kPreload;
        ASSERT_TRUE(IsOk(create_context(ctx, spec)));
        ASSERT_TRUE(IsOk(pyctx_host_register("any.now", times_ten_now, nullptr, nullptr)));
        ASSERT_TRUE(IsOk(pyctx_host_register("any.held", hold, &held, nullptr)));
    }
    void TearDown() override {
        pyctx_error_free(pyctx_host_unregister("any.now"));
        pyctx_error_free(pyctx_host_unregister("any.held"));
    }
    Context ctx;
    Held held;
};

TEST_P(AnyLoop, UsersOwnAsyncioRunAnsweredAtOnce) {
    Outcome o = call(ctx.get(), "__main__", "own_loop", cbor_array("any.now", 4));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 40);
}

TEST_P(AnyLoop, UsersOwnAsyncioRunAnsweredLaterFromAnotherThread) {
    std::thread answerer([&] {
        ASSERT_TRUE(held.arrived.wait_for(1));
        EXPECT_EQ(answer_int(take(held), 77), PYCTX_OK);
    });
    Outcome o = call(ctx.get(), "__main__", "own_loop", cbor_array("any.held", 1));
    answerer.join();
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 77);
}

TEST_P(AnyLoop, ManyAwaitedAtOnceAnsweredInReverse) {
    constexpr int k = 50;
    std::thread answerer([&] {
        ASSERT_TRUE(held.arrived.wait_for(k));
        // Newest first: each answer must reach its own future.
        for (int i = k - 1; i >= 0; --i) {
            pyctx_host_call_t *c = take(held, true);
            auto args = int_args(c);
            ASSERT_TRUE(args && args->size() == 1);
            EXPECT_EQ(answer_int(c, (*args)[0] + 1000), PYCTX_OK);
        }
    });
    Outcome o = call(ctx.get(), "__main__", "own_loop_many", cbor_array("any.held", k));
    answerer.join();
    ASSERT_TRUE(o.ok()) << o.describe();
    std::vector<int64_t> want;
    for (int i = 0; i < k; ++i) want.push_back(1000 + i);
    EXPECT_EQ(as_int_list(o.value), want);
}

TEST_P(AnyLoop, CancelledAwaitMakesTheLateAnswerReportClosed) {
    Outcome o = call(ctx.get(), "__main__", "own_loop_cancel", cbor_array("any.held"));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_text(o.value), "cancelled");
    ASSERT_EQ(held.arrived.value(), 1u);
    EXPECT_EQ(answer_int(take(held), 1), PYCTX_ERR_CLOSED);
}

TEST_P(AnyLoop, LoopOnAPythonThreadOfItsOwn) {
    Outcome o = call(ctx.get(), "__main__", "thread_loop", cbor_array("any.now", 6));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 60);
}

TEST_P(AnyLoop, HostErrorsReachTheUsersLoop) {
    Outcome o = eval(ctx.get(), "own_loop('any.unknown', 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "LookupError")) << o.describe();
    std::thread answerer([&] {
        ASSERT_TRUE(held.arrived.wait_for(1));
        EXPECT_EQ(answer_error(take(held), "refused"), PYCTX_OK);
    });
    o = eval(ctx.get(), "own_loop('any.held', 1)");
    answerer.join();
    EXPECT_TRUE(RaisesPython(o.error.get(), "pyctx.HostError")) << o.describe();
}

TEST_P(AnyLoop, ContextsOwnLoopStillWorks) {
    Outcome o = call(ctx.get(), "__main__", "one", cbor_array("any.now", 3));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 30);
}

INSTANTIATE_TEST_SUITE_P(Modes, AnyLoop, ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL),
                         [](const auto &info) { return std::string(mode_name(info.param)); });

} // namespace
