// Process contexts, step 2: cancel and per-request timeouts interrupt the
// child's running request; host functions called from the child's Python
// (pyctx.call, await pyctx.async_call), answered on any thread, re-entrant;
// coroutines on the child's asyncio loop.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/host.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

std::string marker_path() { return "/tmp/pyctx-test-talk-" + std::to_string(getpid()); }

bool wait_marker() {
    auto until = Clock::now() + std::chrono::seconds(20);
    while (access(marker_path().c_str(), F_OK) != 0) {
        if (Clock::now() > until) return false;
        std::this_thread::yield();
    }
    unlink(marker_path().c_str());
    return true;
}

std::string preload() {
    return "import asyncio, pyctx, time\n"
           "def started():\n"
           "    open('" + marker_path() + "', 'w').close()\n"
           "def slow():\n"
           "    started()\n"
           "    time.sleep(30)\n"
           "    return 'not interrupted'\n";
}

// Host functions: `double` answers inline; `later` from another thread;
// `reenter` calls back into the context that called it.
void host_double(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    answer_int(call, args && !args->empty() ? (*args)[0] * 2 : -1);
}
void host_later(void *, pyctx_host_call_t *call) {
    std::thread([call] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto args = int_args(call);
        answer_int(call, args && !args->empty() ? (*args)[0] + 100 : -1);
    }).detach();
}
pyctx_context_t *g_reenter_ctx = nullptr;
void host_reenter(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    int64_t n = args && !args->empty() ? (*args)[0] : 0;
    // Back into the same process context, while its Python waits for us.
    std::string expr = "double_via_host(" + std::to_string(n) + ") + 1";
    Outcome o = eval(g_reenter_ctx, expr.c_str());
    if (!o.ok()) {
        answer_error(call, o.describe().c_str());
        return;
    }
    answer_int(call, *as_int(o.value) * 10);
}

class ProcessTalk : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_TRUE(IsOk(pyctx_host_register("double", host_double, nullptr, nullptr)));
        ASSERT_TRUE(IsOk(pyctx_host_register("later", host_later, nullptr, nullptr)));
        ASSERT_TRUE(IsOk(pyctx_host_register("reenter", host_reenter, nullptr, nullptr)));
    }
    void SetUp() override {
        // A request of an earlier test that called started() (a timed-out
        // slow(), say) leaves its marker behind: never taken for this one's.
        unlink(marker_path().c_str());
        std::string p = preload() + "def double_via_host(n):\n    return pyctx.call('double', n)\n";
        ASSERT_TRUE(IsOk(create_process_context(ctx_, {.preload = p.c_str()})));
    }
    Context ctx_;
};

}  // namespace

TEST_F(ProcessTalk, TimeoutInterruptsTheRunningRequest) {
    Outcome o = call(ctx_.get(), "__main__", "slow", {}, {}, 300);
    EXPECT_EQ(o.status(), PYCTX_ERR_TIMEOUT) << o.describe();
    // The child was interrupted: it answers at once, not after 30 s.
    Outcome next = eval(ctx_.get(), "'served'", nullptr, {}, 10000);
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(as_text(next.value), "served");
    EXPECT_EQ(stats_of(ctx_.get()).timed_out, 1u);
}

TEST_F(ProcessTalk, CancelInterruptsTheRunningRequestAndSkipsQueuedOnes) {
    Collector collector;
    uint64_t running = 0, queued = 0;
    ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "slow", nullptr, 0, nullptr, 0,
                                      PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                      &running)));
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx_.get(), "ran_queued = True", nullptr, PYCTX_NO_TIMEOUT,
                                      collector.fn(), collector.user_data(), &queued)));
    ASSERT_TRUE(wait_marker());
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), queued)));
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), running)));
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.find(running)->status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(collector.find(queued)->status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(eval_bool(ctx_.get(), "'ran_queued' in globals()"), false);
    EXPECT_EQ(collector.duplicates(), 0u);
}

TEST_F(ProcessTalk, HostFunctionsAnsweredInlineAndFromAnotherThread) {
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('double', 21)"), 42);
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('later', 1)"), 101);
    Outcome o = eval(ctx_.get(), "pyctx.call('no_such_function')");
    ASSERT_EQ(o.status(), PYCTX_ERR_PYTHON);
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("no_such_function"),
              std::string::npos);
}

TEST_F(ProcessTalk, HostFunctionCallsBackIntoTheSameContext) {
    g_reenter_ctx = ctx_.get();
    // Python -> host `reenter` -> eval in this context -> host `double`.
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('reenter', 4)"), (4 * 2 + 1) * 10);
}

TEST_F(ProcessTalk, CoroutinesRunOnTheChildsLoop) {
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def co(x):\n"
                     "    await asyncio.sleep(0.01)\n"
                     "    y = await pyctx.async_call('later', x)\n"
                     "    return y + await pyctx.async_call('double', x)\n")
                    .ok());
    Outcome o = call(ctx_.get(), "__main__", "co", cbor_array(1));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 101 + 2);
    // Many awaiting at once share the one child.
    Collector collector;
    constexpr int kN = 200;
    for (int i = 0; i < kN; ++i) {
        Cbor args = cbor_array(i);
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "co", args.data(), args.size(),
                                          nullptr, 0, PYCTX_NO_TIMEOUT, collector.fn(),
                                          collector.user_data(), nullptr)));
    }
    ASSERT_TRUE(collector.wait_for(kN));
    int64_t sum = 0;
    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        sum += *as_int(c.value.data(), c.value.size());
    }
    EXPECT_EQ(sum, int64_t{kN} * 100 + int64_t{3} * kN * (kN - 1) / 2);
}

TEST_F(ProcessTalk, CancelledCoroutineIsCancelledInTheChild) {
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def forever():\n"
                     "    global was_cancelled\n"
                     "    started()\n"
                     "    try:\n"
                     "        await asyncio.sleep(3600)\n"
                     "    except asyncio.CancelledError:\n"
                     "        was_cancelled = True\n"
                     "        raise\n")
                    .ok());
    Collector collector;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "forever", nullptr, 0, nullptr, 0,
                                      PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(), &id)));
    ASSERT_TRUE(wait_marker());
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), id)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CANCELLED);
    // The task saw its CancelledError (the context kept serving meanwhile).
    auto until = Clock::now() + std::chrono::seconds(10);
    bool seen = false;
    while (!seen && Clock::now() < until) seen = eval_bool(ctx_.get(), "'was_cancelled' in globals()").value_or(false);
    EXPECT_TRUE(seen);
}

TEST_F(ProcessTalk, CancelsRacingCompletionsCompleteEachRequestOnce) {
    Collector collector;
    constexpr int kN = 300;
    std::vector<uint64_t> ids(kN);
    for (int i = 0; i < kN; ++i) {
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx_.get(), "time.sleep(0.0005) or 1", nullptr, nullptr,
                                          0, PYCTX_NO_TIMEOUT, collector.fn(),
                                          collector.user_data(), &ids[i])));
    }
    // Cancel every other one from another thread while the child works
    // through them: some are queued here, some in the child, one running.
    std::thread canceller([&] {
        for (int i = 0; i < kN; i += 2) {
            Error e(pyctx_cancel(ctx_.get(), ids[i]));
            (void)e;  // not_found when it completed first
        }
    });
    canceller.join();
    ASSERT_TRUE(collector.wait_for(kN));
    EXPECT_EQ(collector.duplicates(), 0u);
    EXPECT_EQ(collector.count(), static_cast<size_t>(kN));
    for (const Completion &c : collector.all())
        EXPECT_TRUE(c.status == PYCTX_OK || c.status == PYCTX_ERR_CANCELLED) << c.message;
    EXPECT_EQ(eval_int(ctx_.get(), "3"), 3);
}

TEST_F(ProcessTalk, AnUnregisteredHostFunctionRaisesLookupErrorNamingIt) {
    // As in worker and owngil contexts: LookupError, not pyctx.HostError.
    Outcome o = eval(ctx_.get(), "pyctx.call('never_registered_here', 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "LookupError")) << o.describe();
    EXPECT_NE(std::string(o.error ? pyctx_error_message(o.error.get()) : "")
                  .find("never_registered_here"),
              std::string::npos);
    // And awaited.
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def missing():\n"
                     "    try:\n"
                     "        await pyctx.async_call('never_registered_either')\n"
                     "    except LookupError as e:\n"
                     "        return 'lookup: ' + str(e)\n")
                    .ok());
    Outcome a = call(ctx_.get(), "__main__", "missing");
    ASSERT_TRUE(a.ok()) << a.describe();
    EXPECT_NE(as_text(a.value).value_or("").find("never_registered_either"), std::string::npos);
}

// The store, the host's endpoints and its channels live in the host process:
// a child that used its own empty copies would lose every write silently.
// Each is refused with a RuntimeError naming it, and nothing reaches the
// host's store.
TEST_F(ProcessTalk, HostProcessStateIsRefusedClearlyNotCopied) {
    const char *uses[][2] = {
        {"pyctx.store_put('process-talk-key', 5)", "pyctx.store_put()"},
        {"pyctx.store_get('process-talk-key')", "pyctx.store_get()"},
        {"pyctx.store_keys('')", "pyctx.store_keys()"},
        {"pyctx.send('some-endpoint', 1)", "pyctx.send()"},
        {"pyctx.Channel(1)", "pyctx.Channel"},
    };
    for (const auto &use : uses) {
        Outcome o = eval(ctx_.get(), use[0]);
        EXPECT_TRUE(RaisesPython(o.error.get(), "RuntimeError")) << use[0] << ": " << o.describe();
        EXPECT_NE(o.describe().find(std::string(use[1]) + " is not available in a process context"),
                  std::string::npos)
            << o.describe();
    }
    pyctx_bytes_t value{};
    EXPECT_TRUE(FailsWith(pyctx_store_get("process-talk-key", &value, nullptr), PYCTX_ERR_NOT_FOUND));
    // The same Python in a worker context reaches the host's store.
    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(exec(worker.get(), "import pyctx; pyctx.store_put('process-talk-key', 5)").ok());
    Bytes stored;
    ASSERT_TRUE(IsOk(pyctx_store_get("process-talk-key", stored.out(), nullptr)));
    EXPECT_EQ(as_int(stored), 5);
    uint64_t version = 0;
    ASSERT_TRUE(IsOk(pyctx_store_get("process-talk-key", stored.out(), &version)));
    EXPECT_TRUE(IsOk(pyctx_store_delete("process-talk-key", version, nullptr)));
}
