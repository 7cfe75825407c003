// Cancellation and deadlines: queued requests complete without running,
// running ones are interrupted, and the context keeps serving afterwards.
#include <gtest/gtest.h>

#include <chrono>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {
// Generous upper bound for "returns at about the deadline": the deadlines
// used here are 100-300 ms; a missing deadline would hang instead.
constexpr auto kReturnBound = std::chrono::seconds(10);
} // namespace

class CancelTimeoutTest : public ContextTest {
protected:
    void SetUp() override {
        ContextTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        // Requests that run append to `ran`; those that never run leave no trace.
        ASSERT_TRUE(exec(ctx(), "ran = []").ok());
    }
    void TearDown() override {
        gate_.open_all(); // a request blocked on the gate cannot be interrupted
    }

    /** Occupies the context with a request blocked on the gate. */
    void occupy() {
        ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), gate_.py_block().c_str(), nullptr, 0,
                                          blocker_.fn(), blocker_.user_data(), nullptr)));
        ASSERT_TRUE(gate_.wait_started());
    }
    /** Lets the blocked request finish. */
    void release() {
        gate_.release();
        ASSERT_TRUE(blocker_.wait_for(1));
        EXPECT_EQ(blocker_.all()[0].status, PYCTX_OK);
    }

    Gate gate_;
    Collector blocker_;
    Watchdog guard_;
};

TEST_P(CancelTimeoutTest, CancelledQueuedRequestNeverRuns) {
    occupy();
    Collector collector;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "ran.append('cancelled one')", nullptr, 0,
                                      collector.fn(), collector.user_data(), &id)));
    uint64_t kept = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "ran.append('kept one')", nullptr, 0, collector.fn(),
                                      collector.user_data(), &kept)));
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx(), id)));
    // It completes now, while the context is still busy with the blocker.
    ASSERT_TRUE(collector.wait_for(1));
    Completion c = collector.all()[0];
    EXPECT_EQ(c.request_id, id);
    EXPECT_EQ(c.status, PYCTX_ERR_CANCELLED);
    EXPECT_FALSE(c.has_value);
    EXPECT_TRUE(FailsWith(pyctx_cancel(ctx(), id), PYCTX_ERR_NOT_FOUND)) << "already completed";

    release();
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.find(kept)->status, PYCTX_OK);
    EXPECT_EQ(eval_text(ctx(), "repr(ran)"), "['kept one']");
}

TEST_P(CancelTimeoutTest, CancelInterruptsARunningLoop) {
    Gate spin;
    Collector collector;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), (spin.py_spin()).c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), &id)));
    ASSERT_TRUE(spin.wait_started());
    auto t0 = Clock::now();
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx(), id)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_LT(Clock::now() - t0, kReturnBound);
    Completion c = collector.all()[0];
    EXPECT_EQ(c.status, PYCTX_ERR_CANCELLED) << c.message;
    // The context serves the next request, with its namespace intact.
    EXPECT_EQ(eval_int(ctx(), "len(ran) + 7"), 7);
    EXPECT_EQ(stats_of(ctx()).cancelled, 1u);
}

TEST_P(CancelTimeoutTest, CancelOfAnUnknownIdIsNotFound) {
    EXPECT_TRUE(FailsWith(pyctx_cancel(ctx(), 0xFFFFFFFFFFFFull), PYCTX_ERR_NOT_FOUND));
    // A completed request is unknown too.
    Collector collector;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "1", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &id)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_TRUE(FailsWith(pyctx_cancel(ctx(), id), PYCTX_ERR_NOT_FOUND));
    EXPECT_EQ(collector.all()[0].status, PYCTX_OK);
    // Ids belong to their context.
    Context other;
    ASSERT_TRUE(IsOk(create_context(other, mode())));
    occupy();
    uint64_t queued = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "2", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &queued)));
    EXPECT_TRUE(FailsWith(pyctx_cancel(other.get(), queued), PYCTX_ERR_NOT_FOUND));
    release();
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.find(queued)->status, PYCTX_OK) << "cancel on another context touched it";
}

TEST_P(CancelTimeoutTest, QueuedRequestTimesOutAtItsDeadlineWithoutRunning) {
    occupy();
    // Synchronous: returns at the deadline although the context is busy.
    auto t0 = Clock::now();
    Outcome r = exec(ctx(), "ran.append('timed out sync')", nullptr, 100);
    EXPECT_EQ(r.status(), PYCTX_ERR_TIMEOUT) << r.describe();
    EXPECT_LT(Clock::now() - t0, kReturnBound);
    EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(100)) << "returned before the deadline";

    // Asynchronous: the callback arrives at the deadline, too.
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "ran.append('timed out async')", nullptr, 100,
                                      collector.fn(), collector.user_data(), nullptr)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_TIMEOUT);

    release();
    EXPECT_EQ(eval_text(ctx(), "repr(ran)"), "[]");
    EXPECT_EQ(stats_of(ctx()).timed_out, 2u);
}

TEST_P(CancelTimeoutTest, RunningRequestIsInterruptedAtItsDeadline) {
    auto t0 = Clock::now();
    Outcome r = exec(ctx(), "while True:\n    pass\n", nullptr, 200);
    EXPECT_EQ(r.status(), PYCTX_ERR_TIMEOUT) << r.describe();
    EXPECT_LT(Clock::now() - t0, kReturnBound);
    EXPECT_EQ(eval_int(ctx(), "40 + 2"), 42);

    // A loop of short sleeps is interrupted between them.
    r = exec(ctx(), "import time\nfor _ in range(100000):\n    time.sleep(0.01)\n", nullptr, 200);
    EXPECT_EQ(r.status(), PYCTX_ERR_TIMEOUT) << r.describe();

    // Asynchronous form.
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "while True:\n    pass\n", nullptr, 200, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_TIMEOUT);
    EXPECT_EQ(eval_int(ctx(), "6 * 7"), 42);
}

TEST_P(CancelTimeoutTest, ARequestFinishingBeforeItsDeadlineIsUnaffected) {
    Outcome r = eval(ctx(), "sum(range(1000))", nullptr, {}, 10000);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 499500);
    // An interrupt meant for a deadline that passed must not hit a later request.
    for (int i = 0; i < 20; ++i) {
        r = eval(ctx(), "sum(range(100))", nullptr, {}, 1000);
        ASSERT_TRUE(r.ok()) << r.describe();
    }
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(CancelTimeoutTest);
