// asyncio: a call whose function returns a coroutine runs as a task on the
// context's event loop, so many awaiting coroutines share one context, the
// context keeps serving other requests meanwhile, cancellation reaches the
// task as CancelledError, and `await pyctx.async_call(...)` waits for a host
// answer without blocking the loop.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/host.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

constexpr const char *kCoroutines =
    "import asyncio, pyctx\n"
    "async def echo_later(x):\n"
    "    await asyncio.sleep(0.05)\n"
    "    return x\n"
    "cancel_seen = []\n"
    "cancel_event = asyncio.Event()\n"
    "started_event = asyncio.Event()\n"
    "async def wait_forever(tag):\n"
    "    started_event.set()\n"
    "    try:\n"
    "        await asyncio.sleep(3600)\n"
    "    except asyncio.CancelledError:\n"
    "        cancel_seen.append(tag)\n"
    "        cancel_event.set()\n"
    "        raise\n"
    "async def task_started():\n"
    "    # a task cancelled before its first step never runs its body\n"
    "    await asyncio.wait_for(started_event.wait(), 3)\n"
    "async def seen_cancellation():\n"
    "    # the task handles CancelledError on a later loop turn: wait for it\n"
    "    # (TimeoutError if it never comes)\n"
    "    await asyncio.wait_for(cancel_event.wait(), 3)\n"
    "    return repr(cancel_seen)\n"
    "async def fail_later():\n"
    "    await asyncio.sleep(0)\n"
    "    raise ArithmeticError('async failure')\n"
    "async def via_host(x):\n"
    "    return await pyctx.async_call('async_later', x)\n";

} // namespace

class AsyncioTest : public ModeTest {
protected:
    void SetUp() override {
        ModeTest::SetUp();
        if (IsSkipped()) return;
        ContextSpec spec;
        spec.mode = mode();
        spec.preload = kCoroutines;
        ASSERT_TRUE(IsOk(create_context(ctx_, spec)));
    }
    pyctx_context_t *ctx() { return ctx_.get(); }

    uint64_t submit_call(Collector &collector, const char *function, const Cbor &args,
                         uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
        uint64_t id = 0;
        EXPECT_TRUE(IsOk(pyctx_call_async(ctx(), "__main__", function, args.data(), args.size(), nullptr, 0,
                                          timeout_ms, collector.fn(), collector.user_data(), &id)));
        return id;
    }

    Context ctx_;
    Watchdog guard_;
};

TEST_P(AsyncioTest, ThousandSleepingCoroutinesOverlap) {
    // One coroutine request, end to end: the unit of comparison.
    auto t0 = Clock::now();
    Outcome one = call(ctx(), "__main__", "echo_later", cbor_array(-1));
    const auto single = Clock::now() - t0;
    ASSERT_TRUE(one.ok()) << one.describe();
    EXPECT_EQ(as_int(one.value), -1);

    constexpr int kCoroutineCount = 1000;
    Collector collector;
    std::map<uint64_t, int64_t> expected;
    t0 = Clock::now();
    for (int64_t i = 0; i < kCoroutineCount; ++i) expected[submit_call(collector, "echo_later", cbor_array(i))] = i;
    ASSERT_TRUE(collector.wait_for(kCoroutineCount));
    const auto all = Clock::now() - t0;

    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        EXPECT_EQ(as_int(c.value.data(), c.value.size()), expected[c.request_id]);
    }
    // Run one after another they would take 1000x; overlapping, a few x.
    std::printf("%s: one coroutine %.1f ms, %d concurrently %.1f ms\n", mode_name(mode()),
                std::chrono::duration<double, std::milli>(single).count(), kCoroutineCount,
                std::chrono::duration<double, std::milli>(all).count());
    EXPECT_LT(all, 10 * single);
}

TEST_P(AsyncioTest, ServesOtherRequestsWhileTasksArePending) {
    Collector collector;
    uint64_t id = submit_call(collector, "wait_forever", cbor_array("pending"));
    ASSERT_TRUE(call(ctx(), "__main__", "task_started").ok());
    EXPECT_EQ(eval_int(ctx(), "6 * 7"), 42);
    EXPECT_TRUE(exec(ctx(), "marker = 'served'").ok());
    EXPECT_EQ(eval_text(ctx(), "marker"), "served");
    EXPECT_EQ(collector.count(), 0u);

    ASSERT_TRUE(IsOk(pyctx_cancel(ctx(), id)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CANCELLED);
    // The task itself saw the cancellation.
    Outcome seen = call(ctx(), "__main__", "seen_cancellation");
    ASSERT_TRUE(seen.ok()) << seen.describe();
    EXPECT_EQ(as_text(seen.value), "['pending']");
}

TEST_P(AsyncioTest, DeadlineCancelsTheTask) {
    Collector collector;
    submit_call(collector, "wait_forever", cbor_array("deadline"), 300);
    Outcome started = call(ctx(), "__main__", "task_started");
    ASSERT_TRUE(started.ok()) << started.describe();
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_TIMEOUT);
    Outcome seen = call(ctx(), "__main__", "seen_cancellation");
    ASSERT_TRUE(seen.ok()) << seen.describe();
    EXPECT_EQ(as_text(seen.value), "['deadline']");
}

TEST_P(AsyncioTest, CoroutineExceptionsComeBackAsPythonErrors) {
    Outcome r = call(ctx(), "__main__", "fail_later");
    ASSERT_TRUE(RaisesPython(r.error.get(), "ArithmeticError"));
    EXPECT_STREQ(pyctx_error_message(r.error.get()), "async failure");
    EXPECT_NE(std::string(pyctx_error_traceback(r.error.get())).find("fail_later"), std::string::npos)
        << r.describe();
}

namespace {
struct HostInbox {
    std::mutex mu;
    std::deque<pyctx_host_call_t *> calls;
    Counter arrived;
};
void inbox_fn(void *user_data, pyctx_host_call_t *call) {
    auto *inbox = static_cast<HostInbox *>(user_data);
    {
        std::lock_guard<std::mutex> lock(inbox->mu);
        inbox->calls.push_back(call);
    }
    inbox->arrived.add();
}
} // namespace

TEST_P(AsyncioTest, AwaitedHostCallsAreAnsweredLaterFromAnotherThread) {
    HostInbox inbox;
    ASSERT_TRUE(IsOk(pyctx_host_register("async_later", inbox_fn, &inbox, nullptr)));
    constexpr int kCalls = 50;
    Collector collector;
    std::map<uint64_t, int64_t> expected;
    for (int64_t i = 0; i < kCalls; ++i) expected[submit_call(collector, "via_host", cbor_array(i))] = i * 3;

    // The answering thread waits until *all* calls have arrived: that only
    // happens if awaiting one host answer does not block the event loop.
    std::thread answerer([&] {
        ASSERT_TRUE(inbox.arrived.wait_for(kCalls)) << inbox.arrived.value() << " calls arrived";
        std::lock_guard<std::mutex> lock(inbox.mu);
        for (pyctx_host_call_t *call : inbox.calls) {
            auto args = int_args(call);
            EXPECT_EQ(answer_int(call, args && args->size() == 1 ? (*args)[0] * 3 : -1), PYCTX_OK);
        }
        inbox.calls.clear();
    });
    // Meanwhile the context answers synchronous requests too.
    EXPECT_EQ(eval_int(ctx(), "1 + 1"), 2);
    answerer.join();
    ASSERT_TRUE(collector.wait_for(kCalls));
    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        EXPECT_EQ(as_int(c.value.data(), c.value.size()), expected[c.request_id]);
    }
    EXPECT_TRUE(IsOk(pyctx_host_unregister("async_later")));
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(AsyncioTest);

// A coroutine that waits on a synchronous host call, then awaits an async
// one. The synchronous wait runs inside the loop's turn and parks the
// context thread (a process child: its main thread); when the task then
// yields, the loop blocks in its selector again, and the later answer must
// wake it there. It used to wake only a thread parked the other way, so the
// coroutine hung (seen as test_channel's await case hanging in process
// contexts, where every channel operation is a host call).
namespace {
constexpr const char *kSyncThenAwait =
    "import pyctx\n"
    "async def sync_then_await(x):\n"
    "    y = pyctx.call('slow_sync', x)\n"
    "    return await pyctx.async_call('async_later', y)\n";

// Answers every call that arrives, `delay` after it arrived: long past any
// spin, so the waiting side parks (a sync wait) or its loop goes back to
// the selector (an await) before the answer comes.
struct LateAnswerer {
    explicit LateAnswerer(std::chrono::milliseconds delay) : delay_(delay) {}
    ~LateAnswerer() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    static void fn(void *self, pyctx_host_call_t *call) {
        auto *a = static_cast<LateAnswerer *>(self);
        std::lock_guard<std::mutex> lock(a->mu_);
        a->calls_.push_back({Clock::now() + a->delay_, call});
        a->cv_.notify_all();
    }
    void run() {
        std::unique_lock<std::mutex> lock(mu_);
        while (!stop_ || !calls_.empty()) {
            if (calls_.empty()) {
                cv_.wait(lock);
                continue;
            }
            auto [when, call] = calls_.front();
            if (Clock::now() < when) {
                cv_.wait_until(lock, when);
                continue;
            }
            calls_.pop_front();
            lock.unlock();
            auto args = int_args(call);
            EXPECT_EQ(answer_int(call, args && args->size() == 1 ? (*args)[0] + 1 : -1), PYCTX_OK);
            lock.lock();
        }
    }

    const std::chrono::milliseconds delay_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<Clock::time_point, pyctx_host_call_t *>> calls_;
    bool stop_ = false;
    std::thread thread_{[this] { run(); }};
};
}  // namespace

class AsyncAfterSyncWait : public ModeTest {};

TEST_P(AsyncAfterSyncWait, AnAwaitAfterAParkedSyncHostCallIsWoken) {
    LateAnswerer answerer(std::chrono::milliseconds(30));
    ASSERT_TRUE(IsOk(pyctx_host_register("slow_sync", LateAnswerer::fn, &answerer, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_host_register("async_later", LateAnswerer::fn, &answerer, nullptr)));
    ContextSpec spec;
    spec.mode = mode();
    spec.preload = kSyncThenAwait;
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, spec)));
    // One at a time, so the loop has no other task to wake it.
    for (int64_t round = 0; round < 3; ++round) {
        Collector collector;
        Cbor args = cbor_array(round * 10);
        uint64_t id = 0;
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx.get(), "__main__", "sync_then_await", args.data(),
                                          args.size(), nullptr, 0, PYCTX_NO_TIMEOUT,
                                          collector.fn(), collector.user_data(), &id)));
        ASSERT_TRUE(collector.wait_for(1, std::chrono::seconds(10))) << "round " << round << " hung";
        auto c = collector.find(id);
        ASSERT_TRUE(c && c->status == PYCTX_OK) << (c ? c->message : "none");
        EXPECT_EQ(as_int(c->value.data(), c->value.size()), round * 10 + 2);
    }
    ctx.reset();
    EXPECT_TRUE(IsOk(pyctx_host_unregister("slow_sync")));
    EXPECT_TRUE(IsOk(pyctx_host_unregister("async_later")));
}

PYCTX_INSTANTIATE_FOR_ALL_MODES(AsyncAfterSyncWait);
