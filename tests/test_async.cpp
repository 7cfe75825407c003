// Asynchronous requests: every accepted request completes exactly once
// through its callback, on a library thread, never inside the submitting
// call; the pyctx_result_* accessors; callbacks that submit more work.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

class AsyncTest : public ContextTest {
protected:
    Watchdog guard_;
};

TEST_P(AsyncTest, CallAsyncCompletesOnceOnALibraryThread) {
    constexpr int kRequests = 50;
    Collector collector;
    std::map<uint64_t, int64_t> expected; // request id -> gcd(6i, 4i) == 2i
    for (int64_t i = 1; i <= kRequests; ++i) {
        Cbor args = cbor_array(6 * i, 4 * i);
        uint64_t id = 0;
        SubmitScope scope;
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx(), "math", "gcd", args.data(), args.size(), nullptr, 0,
                                          PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                          &id)));
        ASSERT_NE(id, 0u);
        ASSERT_TRUE(expected.emplace(id, 2 * i).second) << "request id " << id << " reused";
    }
    ASSERT_TRUE(collector.wait_for(kRequests));
    std::vector<Completion> done = collector.all();
    EXPECT_EQ(done.size(), static_cast<size_t>(kRequests));
    EXPECT_EQ(collector.duplicates(), 0u);
    for (const Completion &c : done) {
        ASSERT_TRUE(expected.count(c.request_id)) << "unknown id " << c.request_id;
        EXPECT_EQ(c.status, PYCTX_OK) << c.message;
        EXPECT_EQ(as_int(c.value.data(), c.value.size()), expected[c.request_id]);
        EXPECT_FALSE(pthread_equal(c.thread, pthread_self())) << "callback ran on the submitter";
        EXPECT_FALSE(c.inside_submit) << "callback ran inside the submitting call";
    }
}

TEST_P(AsyncTest, EvalAndExecAsync) {
    Collector collector;
    Cbor locals = cbor_map("n", 41);
    uint64_t eval_id = 0, exec_id = 0;
    {
        SubmitScope scope;
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "n + 1", nullptr, locals.data(), locals.size(),
                                          PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                          &eval_id)));
        ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "answer = 6 * 7", nullptr, PYCTX_NO_TIMEOUT,
                                          collector.fn(), collector.user_data(), &exec_id)));
    }
    EXPECT_NE(eval_id, exec_id);
    ASSERT_TRUE(collector.wait_for(2));
    auto e = collector.find(eval_id);
    auto x = collector.find(exec_id);
    ASSERT_TRUE(e && x);
    EXPECT_EQ(e->status, PYCTX_OK) << e->message;
    EXPECT_EQ(as_int(e->value.data(), e->value.size()), 42);
    EXPECT_EQ(x->status, PYCTX_OK) << x->message;
    EXPECT_TRUE(x->has_value && is_null(x->value.data(), x->value.size()))
        << "exec result must be CBOR null, got " << diag(x->value);
    EXPECT_FALSE(e->inside_submit || x->inside_submit);
    EXPECT_EQ(eval_int(ctx(), "answer"), 42);
}

TEST_P(AsyncTest, AsyncWithAnEnv) {
    pyctx_env_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx(), &raw)));
    Env env(raw);
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx(), "y = 9", env.get(), 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(collector.wait_for(1));
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "y * y", env.get(), nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(collector.wait_for(2));
    Completion c = collector.all()[1];
    EXPECT_EQ(c.status, PYCTX_OK) << c.message;
    EXPECT_EQ(as_int(c.value.data(), c.value.size()), 81);
    EXPECT_TRUE(RaisesPython(eval(ctx(), "y").error.get(), "NameError"));
}

TEST_P(AsyncTest, RequestIdOutParameterIsOptional) {
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "'no id wanted'", nullptr, nullptr, 0, 0,
                                      collector.fn(), collector.user_data(), nullptr)));
    ASSERT_TRUE(collector.wait_for(1));
    Completion c = collector.all()[0];
    EXPECT_NE(c.request_id, 0u);
    EXPECT_EQ(as_text(c.value.data(), c.value.size()), "no id wanted");
}

TEST_P(AsyncTest, ResultAccessorsAndTakeValue) {
    Collector collector;
    collector.keep_results(true);
    uint64_t ok_id = 0, err_id = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "list(range(4))", nullptr, nullptr, 0, 0,
                                      collector.fn(), collector.user_data(), &ok_id)));
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "1 / 0", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &err_id)));
    ASSERT_TRUE(collector.wait_for(2));

    // Results are owned by whoever holds them: these were received on the
    // library thread and are used and freed here.
    Result ok = collector.take_result(ok_id);
    ASSERT_NE(ok, nullptr);
    EXPECT_EQ(pyctx_result_status(ok.get()), PYCTX_OK);
    EXPECT_EQ(pyctx_result_error(ok.get()), nullptr);
    size_t len = 0;
    const uint8_t *value = pyctx_result_value(ok.get(), &len);
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(as_int_list(value, len), (std::vector<int64_t>{0, 1, 2, 3}));
    Cbor copy(value, value + len);

    Bytes taken;
    ASSERT_TRUE(IsOk(pyctx_result_take_value(ok.get(), taken.out())));
    EXPECT_EQ(taken.vec(), copy);
    len = 99;
    EXPECT_EQ(pyctx_result_value(ok.get(), &len), nullptr) << "the value moved out";
    EXPECT_EQ(len, 0u);
    Bytes again;
    EXPECT_TRUE(FailsWith(pyctx_result_take_value(ok.get(), again.out()), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(pyctx_result_status(ok.get()), PYCTX_OK) << "taking the value keeps the status";

    Result err = collector.take_result(err_id);
    ASSERT_NE(err, nullptr);
    EXPECT_EQ(pyctx_result_status(err.get()), PYCTX_ERR_PYTHON);
    len = 99;
    EXPECT_EQ(pyctx_result_value(err.get(), &len), nullptr);
    EXPECT_EQ(len, 0u);
    const pyctx_error_t *error = pyctx_result_error(err.get());
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(pyctx_error_status(error), PYCTX_ERR_PYTHON);
    EXPECT_STREQ(pyctx_error_python_type(error), "ZeroDivisionError");
    EXPECT_STRNE(pyctx_error_message(error), "");
    EXPECT_TRUE(FailsWith(pyctx_result_take_value(err.get(), again.out()), PYCTX_ERR_INVALID_ARGUMENT));
}

namespace {

/** A chain of requests, each submitted from the previous one's callback. */
struct Chain {
    pyctx_context_t *ctx = nullptr;
    int last = 10;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int64_t> values;
    std::vector<pyctx_status> submit_statuses;
    bool done = false;
};

void chain_step(void *user_data, uint64_t, pyctx_result_t *raw) {
    Result result(raw);
    auto *chain = static_cast<Chain *>(user_data);
    size_t len = 0;
    const uint8_t *v = pyctx_result_value(result.get(), &len);
    int64_t value = v ? as_int(v, len).value_or(-1) : -1;
    std::lock_guard<std::mutex> lock(chain->mu);
    chain->values.push_back(value);
    if (value >= 0 && value < chain->last) {
        Cbor locals = cbor_map("n", value);
        Error e(pyctx_eval_async(chain->ctx, "n + 1", nullptr, locals.data(), locals.size(), 0,
                                 chain_step, chain, nullptr));
        chain->submit_statuses.push_back(status_of(e.get()));
        if (!e) return;
    }
    chain->done = true;
    chain->cv.notify_all();
}

} // namespace

TEST_P(AsyncTest, CallbacksMaySubmitNewRequests) {
    Chain chain;
    chain.ctx = ctx();
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "0", nullptr, nullptr, 0, 0, chain_step, &chain, nullptr)));
    std::unique_lock<std::mutex> lock(chain.mu);
    ASSERT_TRUE(chain.cv.wait_for(lock, std::chrono::seconds(10), [&] { return chain.done; }));
    std::vector<int64_t> want;
    for (int i = 0; i <= chain.last; ++i) want.push_back(i);
    EXPECT_EQ(chain.values, want);
    for (pyctx_status s : chain.submit_statuses) EXPECT_EQ(s, PYCTX_OK);
}

namespace {

/** Per-request user data, finalized by the completion callback. */
struct Pending {
    int64_t n;
    std::atomic<int> *wrong;
    Counter *completed;
};

void finish_pending(void *user_data, uint64_t, pyctx_result_t *raw) {
    Result result(raw);
    auto *p = static_cast<Pending *>(user_data);
    size_t len = 0;
    const uint8_t *v = pyctx_result_value(result.get(), &len);
    if (!v || as_int(v, len) != p->n * 2) p->wrong->fetch_add(1);
    Counter *completed = p->completed;
    delete p; // the callback is the user data's finalizer: exactly once
    completed->add();
}

} // namespace

TEST_P(AsyncTest, ThousandRequestsInFlightEachWithItsOwnUserData) {
    constexpr int kRequests = 1000;
    std::atomic<int> wrong{0};
    Counter completed;
    for (int64_t i = 0; i < kRequests; ++i) {
        Cbor locals = cbor_map("n", i);
        auto *p = new Pending{i, &wrong, &completed};
        Error e(pyctx_eval_async(ctx(), "n * 2", nullptr, locals.data(), locals.size(), 0,
                                 finish_pending, p, nullptr));
        if (e) delete p; // not accepted: never completes, we still own it
        ASSERT_TRUE(!e) << describe(e.get());
    }
    ASSERT_TRUE(completed.wait_for(kRequests)) << completed.value() << " of " << kRequests;
    EXPECT_EQ(wrong.load(), 0);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(AsyncTest);
