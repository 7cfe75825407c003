// Host functions: Python calling the host with pyctx.call(). Answers now or
// later from another thread, failures as pyctx.HostError, unknown names as
// LookupError, unregistering with calls in flight, re-entrant calls back
// into the same context, and the user-data finalizer contract.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

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

namespace {

// A registration deliberately left in place: its finalizer must run exactly
// once, during runtime shutdown. Checked by an Environment registered before
// the runtime's, so that its TearDown runs after pyctx_shutdown.
std::atomic<int> g_left_finalized{0};

class LeftRegistrationCheck : public ::testing::Environment {
public:
    void TearDown() override {
        EXPECT_EQ(g_left_finalized.load(), 1) << "finalizer of a registration left at shutdown";
    }
};

} // namespace

static auto *const g_left_check = ::testing::AddGlobalTestEnvironment(new LeftRegistrationCheck);
static auto *const g_runtime = install_runtime();

namespace {

// Python helpers loaded into every context: classify what a host call raised.
constexpr const char *kPreload =
    "import pyctx\n"
    "def outcome_of(name, *args):\n"
    "    try:\n"
    "        return 'value:' + repr(pyctx.call(name, *args))\n"
    "    except pyctx.HostError as e:\n"
    "        return 'host:' + str(e)\n"
    "    except LookupError as e:\n"
    "        return 'lookup:' + type(e).__name__\n"
    "    except Exception as e:\n"
    "        return 'other:' + type(e).__name__ + ':' + str(e)\n";

/** What a host function saw on its invocations. */
struct Seen {
    std::mutex mu;
    std::vector<std::string> names, context_names;
    std::vector<pid_t> tids;
    void record(const pyctx_host_call_t *call) {
        std::lock_guard<std::mutex> lock(mu);
        names.emplace_back(pyctx_host_call_name(call));
        context_names.emplace_back(pyctx_host_call_context_name(call));
        tids.push_back(current_tid());
    }
};

void add_fn(void *user_data, pyctx_host_call_t *call) {
    static_cast<Seen *>(user_data)->record(call);
    auto args = int_args(call);
    if (!args) {
        answer_error(call, "add takes integers");
        return;
    }
    answer_int(call, std::accumulate(args->begin(), args->end(), int64_t{0}));
}

void fail_fn(void *, pyctx_host_call_t *call) { answer_error(call, "nope: 7"); }

/** Keeps calls for another thread to answer later. */
struct Mailbox {
    std::mutex mu;
    std::deque<pyctx_host_call_t *> calls;
    Counter arrived;
    pyctx_host_call_t *pop() {
        std::lock_guard<std::mutex> lock(mu);
        if (calls.empty()) return nullptr;
        pyctx_host_call_t *c = calls.front();
        calls.pop_front();
        return c;
    }
};

void mailbox_fn(void *user_data, pyctx_host_call_t *call) {
    auto *box = static_cast<Mailbox *>(user_data);
    {
        std::lock_guard<std::mutex> lock(box->mu);
        box->calls.push_back(call);
    }
    box->arrived.add();
}

/** Registers `name` for the life of a test. */
class Registration {
public:
    Registration(const char *name, pyctx_host_fn fn, void *user_data, pyctx_free_fn fin = nullptr)
        : name_(name) {
        EXPECT_TRUE(IsOk(pyctx_host_register(name, fn, user_data, fin)));
    }
    ~Registration() { pyctx_error_free(pyctx_host_unregister(name_.c_str())); }

private:
    std::string name_;
};

} // namespace

class HostFunctionTest : public ModeTest {
protected:
    void SetUp() override {
        ModeTest::SetUp();
        if (IsSkipped()) return;
        ContextSpec spec;
        spec.mode = mode();
        spec.name = mode() == PYCTX_MODE_OWNGIL ? "host-owngil" : "host-worker";
        spec.preload = kPreload;
        ASSERT_TRUE(IsOk(create_context(ctx_, spec)));
    }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
    Watchdog guard_;
};

TEST_P(HostFunctionTest, PythonCallsARegisteredFunction) {
    Seen seen;
    Registration reg("add", add_fn, &seen);
    EXPECT_EQ(eval_int(ctx(), "pyctx.call('add', 1, 2)"), 3);
    EXPECT_EQ(eval_int(ctx(), "pyctx.call('add', 10, 20, 30, -5)"), 55);
    EXPECT_EQ(eval_int(ctx(), "pyctx.call('add')"), 0);

    std::lock_guard<std::mutex> lock(seen.mu);
    ASSERT_EQ(seen.names.size(), 3u);
    const pid_t context_thread = static_cast<pid_t>(stats_of(ctx()).thread_id);
    for (size_t i = 0; i < seen.names.size(); ++i) {
        EXPECT_EQ(seen.names[i], "add");
        EXPECT_EQ(seen.context_names[i], pyctx_context_name(ctx()));
        EXPECT_EQ(seen.tids[i], context_thread) << "host functions run on the context thread";
    }
}

TEST_P(HostFunctionTest, AnswerLaterFromAnotherThread) {
    Mailbox box;
    Registration reg("later", mailbox_fn, &box);
    std::thread answerer([&] {
        ASSERT_TRUE(box.arrived.wait_for(1));
        pyctx_host_call_t *call = box.pop();
        ASSERT_NE(call, nullptr);
        auto args = int_args(call);
        EXPECT_EQ(answer_int(call, args && args->size() == 1 ? (*args)[0] * 2 : -1), PYCTX_OK);
    });
    EXPECT_EQ(eval_int(ctx(), "pyctx.call('later', 21)"), 42);
    answerer.join();
}

TEST_P(HostFunctionTest, FailureRaisesHostError) {
    Registration reg("failing", fail_fn, nullptr);
    EXPECT_EQ(eval_text(ctx(), "outcome_of('failing')"), "host:nope: 7");
    Outcome r = eval(ctx(), "pyctx.call('failing', 1)");
    ASSERT_EQ(r.status(), PYCTX_ERR_PYTHON) << r.describe();
    EXPECT_EQ(std::string(pyctx_error_python_type(r.error.get())), "pyctx.HostError");
    EXPECT_STREQ(pyctx_error_message(r.error.get()), "nope: 7");
}

TEST_P(HostFunctionTest, UnknownNameRaisesLookupError) {
    EXPECT_EQ(eval_text(ctx(), "outcome_of('no_such_host_function')").value_or("").rfind("lookup:", 0), 0u);
}

TEST_P(HostFunctionTest, InvalidCborAnswerIsADecodeErrorAndAHostError) {
    Mailbox box;
    Registration reg("garbage", mailbox_fn, &box);
    std::thread answerer([&] {
        ASSERT_TRUE(box.arrived.wait_for(1));
        const uint8_t truncated[] = {0x82, 0x01}; // array of 2 with one item
        Error e(pyctx_host_call_return(box.pop(), truncated, sizeof truncated));
        EXPECT_EQ(status_of(e.get()), PYCTX_ERR_DECODE) << describe(e.get());
    });
    EXPECT_EQ(eval_text(ctx(), "outcome_of('garbage')").value_or("").rfind("host:", 0), 0u);
    answerer.join();
}

TEST_P(HostFunctionTest, ContextClosingWhileACallIsPending) {
    Mailbox box;
    Registration reg("hold", mailbox_fn, &box);
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "outcome_of('hold')", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(box.arrived.wait_for(1));
    // The context thread waits for the host; close must still finish.
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 5000)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CLOSED);
    // A late answer is refused but still releases the call (ASan checks).
    EXPECT_EQ(answer_int(box.pop(), 1), PYCTX_ERR_CLOSED);
}

namespace {

/** Re-entrancy: Python's descend(d) calls the host, which synchronously
 *  calls descend(d + 1) on the same context, down to depth 10. */
struct Reentry {
    pyctx_context_t *ctx = nullptr;
    std::atomic<int> invocations{0};
    std::atomic<int> off_thread{0};
    pid_t context_thread = 0;
};

void reenter_fn(void *user_data, pyctx_host_call_t *call) {
    auto *r = static_cast<Reentry *>(user_data);
    r->invocations.fetch_add(1);
    if (current_tid() != r->context_thread) r->off_thread.fetch_add(1);
    auto args = int_args(call);
    if (!args || args->size() != 1) {
        answer_error(call, "reenter takes one integer");
        return;
    }
    Outcome below = pyctx_test::call(r->ctx, "__main__", "descend", cbor_array((*args)[0] + 1));
    if (!below.ok()) {
        answer_error(call, below.describe().c_str());
        return;
    }
    answer_int(call, as_int(below.value).value_or(-1000) + 10);
}

constexpr const char *kDescend =
    "def descend(d):\n"
    "    if d >= 10:\n"
    "        return 0\n"
    "    return pyctx.call(REENTER, d) + 1\n";

} // namespace

TEST_P(HostFunctionTest, HostFunctionCallsBackIntoTheSameContextTenDeep) {
    Reentry state;
    state.ctx = ctx();
    state.context_thread = static_cast<pid_t>(stats_of(ctx()).thread_id);
    std::string name = std::string("reenter_") + mode_name(mode());
    Registration reg(name.c_str(), reenter_fn, &state);
    ASSERT_TRUE(exec(ctx(), ("REENTER = '" + name + "'\n" + kDescend).c_str()).ok());

    // descend(0) = sum over 10 levels of (+1 in Python, +10 in the host).
    Outcome r = call(ctx(), "__main__", "descend", cbor_array(0));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 110);
    EXPECT_EQ(state.invocations.load(), 10);
    EXPECT_EQ(state.off_thread.load(), 0);
    // The context is healthy afterwards.
    EXPECT_EQ(eval_int(ctx(), "descend(10) + 5"), 5);
}

TEST_P(HostFunctionTest, QueueKeepsMovingWhileWaitingForTheHost) {
    Mailbox box;
    Registration reg("parked", mailbox_fn, &box);
    Collector collector;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx(), "pyctx.call('parked')", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(box.arrived.wait_for(1));
    // While the first request waits for its answer, others are served.
    EXPECT_EQ(eval_int(ctx(), "2 + 3"), 5);
    EXPECT_EQ(answer_int(box.pop(), 99), PYCTX_OK);
    ASSERT_TRUE(collector.wait_for(1));
    Completion c = collector.all()[0];
    EXPECT_EQ(c.status, PYCTX_OK) << c.message;
    EXPECT_EQ(as_int(c.value.data(), c.value.size()), 99);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(HostFunctionTest);

namespace {
std::atomic<int> g_finalized_a{0}, g_finalized_b{0};
void finalize_a(void *data) { g_finalized_a.fetch_add(*static_cast<int *>(data)); }
void finalize_b(void *data) { g_finalized_b.fetch_add(*static_cast<int *>(data)); }
void finalize_left(void *) { g_left_finalized.fetch_add(1); }
int g_one = 1;
} // namespace

TEST(HostRegistry, FinalizerRunsExactlyOnceOnReplaceAndUnregister) {
    ASSERT_TRUE(IsOk(pyctx_host_register("fin", fail_fn, &g_one, finalize_a)));
    EXPECT_EQ(g_finalized_a.load(), 0);
    // Replacing finalizes the old data only.
    ASSERT_TRUE(IsOk(pyctx_host_register("fin", fail_fn, &g_one, finalize_b)));
    EXPECT_EQ(g_finalized_a.load(), 1);
    EXPECT_EQ(g_finalized_b.load(), 0);
    ASSERT_TRUE(IsOk(pyctx_host_unregister("fin")));
    EXPECT_EQ(g_finalized_a.load(), 1);
    EXPECT_EQ(g_finalized_b.load(), 1);
    EXPECT_TRUE(FailsWith(pyctx_host_unregister("fin"), PYCTX_ERR_NOT_FOUND));
    EXPECT_EQ(g_finalized_b.load(), 1);

    // Left registered until shutdown (checked by LeftRegistrationCheck).
    ASSERT_TRUE(IsOk(pyctx_host_register("left_for_shutdown", fail_fn, nullptr, finalize_left)));
}

namespace {
struct FinalizedMailbox {
    Mailbox box;
    Counter finalized;
};
void finalize_mailbox(void *data) { static_cast<FinalizedMailbox *>(data)->finalized.add(); }
void finalized_mailbox_fn(void *data, pyctx_host_call_t *call) {
    mailbox_fn(&static_cast<FinalizedMailbox *>(data)->box, call);
}
} // namespace

TEST(HostRegistry, UnregisterWhileCallsAreInFlight) {
    Watchdog guard;
    FinalizedMailbox state;
    ASSERT_TRUE(IsOk(pyctx_host_register("in_flight", finalized_mailbox_fn, &state, finalize_mailbox)));
    Context a, b, c;
    ContextSpec spec;
    spec.preload = kPreload;
    ASSERT_TRUE(IsOk(create_context(a, spec)));
    ASSERT_TRUE(IsOk(create_context(b, spec)));
    ASSERT_TRUE(IsOk(create_context(c, spec)));

    Collector collector;
    uint64_t id_a = 0, id_b = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(a.get(), "pyctx.call('in_flight')", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &id_a)));
    ASSERT_TRUE(IsOk(pyctx_eval_async(b.get(), "pyctx.call('in_flight')", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &id_b)));
    ASSERT_TRUE(state.box.arrived.wait_for(2));

    ASSERT_TRUE(IsOk(pyctx_host_unregister("in_flight")));
    // New calls no longer find it.
    EXPECT_EQ(eval_text(c.get(), "outcome_of('in_flight')").value_or("").rfind("lookup:", 0), 0u);
    // Calls in flight finish normally.
    EXPECT_EQ(answer_int(state.box.pop(), 5), PYCTX_OK);
    EXPECT_EQ(answer_int(state.box.pop(), 5), PYCTX_OK);
    ASSERT_TRUE(collector.wait_for(2));
    for (const Completion &done : collector.all()) {
        EXPECT_EQ(done.status, PYCTX_OK) << done.message;
        EXPECT_EQ(as_int(done.value.data(), done.value.size()), 5);
    }
    ASSERT_TRUE(state.finalized.wait_for(1));
    EXPECT_EQ(state.finalized.value(), 1u);
}
