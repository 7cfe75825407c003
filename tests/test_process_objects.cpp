// Object handles and streams of process contexts, where they differ from the
// other modes (test_objects.cpp and test_streams.cpp run every common case
// in process mode too): handles live in the child, so a child that ends
// takes them along -- a handle of a dead child is refused as closed, never
// sent to its successor, and the live count starts again -- and a handle or
// stream the child made for a caller that gave up before the result arrived
// is dropped in the child, not leaked there.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

constexpr const char *kPreload =
    "import gc, time, weakref\n"
    "live = weakref.WeakSet()\n"
    "class Counter:\n"
    "    def __init__(self, start=0):\n"
    "        self.value = start\n"
    "        live.add(self)\n"
    "    def add(self, n=1):\n"
    "        self.value += n\n"
    "        return self.value\n"
    "def make(start=0):\n"
    "    return Counter(start)\n"
    "def slow_make(seconds):\n"
    "    try:\n"
    "        time.sleep(seconds)\n"
    "    except KeyboardInterrupt:\n"
    "        pass  # made all the same, after the host gave up\n"
    "    return Counter(7)\n"
    "gens = weakref.WeakSet()\n"
    "def slow_stream(seconds):\n"
    "    try:\n"
    "        time.sleep(seconds)\n"
    "    except KeyboardInterrupt:\n"
    "        pass\n"
    "    g = (i for i in range(3))\n"
    "    gens.add(g)\n"
    "    return g\n"
    "def gen_count():\n"
    "    gc.collect()\n"
    "    return len(gens)\n"
    "def live_count():\n"
    "    gc.collect()\n"
    "    return len(live)\n";

// __main__.function(*args), its result as a handle; the request's own error
// (or nullptr) in *status_out.
Object make_object(pyctx_context_t *ctx, const char *function, const Cbor &args,
                   uint32_t timeout_ms = PYCTX_NO_TIMEOUT, pyctx_status *status_out = nullptr) {
    Request r = new_request();
    EXPECT_TRUE(IsOk(pyctx_request_set_context(r.get(), ctx)));
    EXPECT_TRUE(IsOk(pyctx_request_set_call(r.get(), "__main__", function)));
    EXPECT_TRUE(IsOk(pyctx_request_set_args(r.get(), args.data(), args.size())));
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_OBJECT)));
    EXPECT_TRUE(IsOk(pyctx_request_set_timeout(r.get(), timeout_ms)));
    EXPECT_TRUE(IsOk(pyctx_request_submit(r.get())));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    const pyctx_error_t *err = pyctx_request_error(r.get());
    if (status_out) *status_out = err ? pyctx_error_status(err) : PYCTX_OK;
    Object o;
    if (err) return o;
    pyctx_object_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_request_take_object(r.get(), &raw)));
    o.reset(raw);
    return o;
}

Outcome add(const pyctx_object_t *o, int n) {
    Outcome out;
    Cbor args = cbor_array(n);
    out.error.reset(pyctx_object_call_method(o, "add", args.data(), args.size(), nullptr, 0,
                                             PYCTX_NO_TIMEOUT, out.value.out()));
    return out;
}

Object make_counter_or_fail(pyctx_context_t *ctx) {
    pyctx_status status = PYCTX_ERR_INTERNAL;
    Object o = make_object(ctx, "make", cbor_array(3), PYCTX_NO_TIMEOUT, &status);
    EXPECT_EQ(status, PYCTX_OK);
    return o;
}

// Polls `expr` in the context until it is `want` (20 s at most): the child
// learns of a dropped result by a message that follows the completion.
bool eventually_equals(pyctx_context_t *ctx, const char *expr, int64_t want) {
    const auto until = Clock::now() + std::chrono::seconds(20);
    for (;;) {
        Outcome o = eval(ctx, expr);
        if (o.ok() && as_int(o.value) == want) return true;
        if (Clock::now() > until) {
            ADD_FAILURE() << expr << " never became " << want << ": " << o.describe();
            return false;
        }
        std::this_thread::yield();
    }
}

}  // namespace

TEST(ProcessObjects, AHandleOfAChildThatEndedIsClosedAndTheCountStartsAgain) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(
        ctx, {.name = "objects-proc", .preload = kPreload, .restart_max = 1})));
    Object old = make_counter_or_fail(ctx.get());
    ASSERT_TRUE(old);
    Outcome o = add(old.get(), 2);
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 5);
    EXPECT_EQ(stats_of(ctx.get()).live_objects, 1u);

    EXPECT_EQ(exec(ctx.get(), "import os; os._exit(3)").status(), PYCTX_ERR_CRASHED);
    EXPECT_EQ(eval_int(ctx.get(), "live_count()"), 0);  // the new child runs
    EXPECT_EQ(restarts_of(ctx.get()), 1u);
    EXPECT_EQ(stats_of(ctx.get()).live_objects, 0u);

    // The old handle is refused, never sent to the new child (where its id
    // could otherwise name another object).
    Object fresh = make_counter_or_fail(ctx.get());
    ASSERT_TRUE(fresh);
    EXPECT_NE(pyctx_object_id(fresh.get()), pyctx_object_id(old.get()));
    o = add(old.get(), 1);
    EXPECT_EQ(o.status(), PYCTX_ERR_CLOSED) << o.describe();
    EXPECT_NE(o.describe().find("belonged to a child process of context 'objects-proc'"),
              std::string::npos)
        << o.describe();
    o = add(fresh.get(), 1);
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 4);
    EXPECT_EQ(stats_of(ctx.get()).live_objects, 1u);
    // Releasing the dead child's handle changes nothing in the new one.
    old.reset();
    EXPECT_EQ(eval_int(ctx.get(), "live_count()"), 1);
}

TEST(ProcessObjects, AHandleMadeForACallerThatTimedOutIsReleasedInTheChild) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    for (int i = 0; i < 3; ++i) {
        pyctx_status status = PYCTX_OK;
        Object none = make_object(ctx.get(), "slow_make", cbor_array(0.3), 50, &status);
        EXPECT_EQ(status, PYCTX_ERR_TIMEOUT);
        EXPECT_FALSE(none);
        // The child made the object after the caller left: it goes there.
        EXPECT_TRUE(eventually_equals(ctx.get(), "live_count()", 0));
    }
    EXPECT_EQ(stats_of(ctx.get()).live_objects, 0u);
    // Results that arrive in time are kept.
    pyctx_status status = PYCTX_ERR_INTERNAL;
    Object kept = make_object(ctx.get(), "slow_make", cbor_array(0.0), PYCTX_NO_TIMEOUT, &status);
    EXPECT_EQ(status, PYCTX_OK);
    EXPECT_TRUE(kept);
    EXPECT_EQ(eval_int(ctx.get(), "live_count()"), 1);
}

TEST(ProcessObjects, AHandleThatArrivesForACancelledRequestIsReleasedInTheChild) {
    // The child made the handle and sent it before it learnt of the cancel:
    // the host then drops it. To hold the completion in the ring until the
    // cancel has happened, an earlier request's callback keeps the io
    // thread (which delivers async completions) busy meanwhile.
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    struct Gate {
        std::atomic<int> entered{0}, open{0};
    } gate;
    Request blocker = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_context(blocker.get(), ctx.get())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(blocker.get(), "1")));
    ASSERT_TRUE(IsOk(pyctx_request_set_callback(
        blocker.get(),
        [](void *user_data, pyctx_request_t *) {
            auto *g = static_cast<Gate *>(user_data);
            g->entered.store(1);
            g->entered.notify_all();
            g->open.wait(0);
        },
        &gate, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(blocker.get())));
    gate.entered.wait(0);  // the io thread is in the callback

    Request made = new_request();
    Cbor args = cbor_array(1);
    ASSERT_TRUE(IsOk(pyctx_request_set_context(made.get(), ctx.get())));
    ASSERT_TRUE(IsOk(pyctx_request_set_call(made.get(), "__main__", "make")));
    ASSERT_TRUE(IsOk(pyctx_request_set_args(made.get(), args.data(), args.size())));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(made.get(), PYCTX_RESULT_OBJECT)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(made.get())));
    // A synchronous caller is answered through its completion slot, not the
    // io thread: once it sees the object, `made` has completed in the child.
    EXPECT_EQ(eval_int(ctx.get(), "live_count()"), 1);
    ASSERT_TRUE(IsOk(pyctx_request_cancel(made.get())));
    gate.open.store(1);
    gate.open.notify_all();
    ASSERT_TRUE(IsOk(pyctx_request_wait(made.get(), PYCTX_NO_TIMEOUT)));
    const pyctx_error_t *err = pyctx_request_error(made.get());
    ASSERT_NE(err, nullptr);
    EXPECT_EQ(pyctx_error_status(err), PYCTX_ERR_CANCELLED);
    EXPECT_TRUE(eventually_equals(ctx.get(), "live_count()", 0));
    EXPECT_EQ(stats_of(ctx.get()).live_objects, 0u);
    ASSERT_TRUE(IsOk(pyctx_request_wait(blocker.get(), PYCTX_NO_TIMEOUT)));
}

TEST(ProcessObjects, AStreamOpenedForACallerThatGaveUpIsClosedInTheChild) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    // The stream's opening call times out while the child still makes the
    // generator; the child then drops it instead of keeping it for a host
    // that will never pull.
    Request r = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_context(r.get(), ctx.get())));
    Cbor args = cbor_array(0.3);
    ASSERT_TRUE(IsOk(pyctx_request_set_call(r.get(), "__main__", "slow_stream")));
    ASSERT_TRUE(IsOk(pyctx_request_set_args(r.get(), args.data(), args.size())));
    ASSERT_TRUE(IsOk(pyctx_request_set_timeout(r.get(), 50)));
    pyctx_stream_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_stream_open(r.get(), 4, nullptr, nullptr, nullptr, nullptr, &raw)));
    Stream s(raw);
    pyctx_bytes_t item{};
    int done = 0;
    Error e(pyctx_stream_next(s.get(), 20000, &item, &done));
    EXPECT_EQ(done, 1);
    ASSERT_NE(e.get(), nullptr);
    EXPECT_EQ(pyctx_error_status(e.get()), PYCTX_ERR_TIMEOUT) << describe(e.get());
    EXPECT_TRUE(eventually_equals(ctx.get(), "gen_count()", 0));
    // A stream opened in time streams.
    EXPECT_EQ(eval_int(ctx.get(), "len(list(slow_stream(0)))"), 3);
}

// A stream lives in the child that made its iterator: once that child died
// and another took its place, the stream's next pull is refused as closed
// (never sent to the new child, which does not know it), and so is its end.
TEST(ProcessObjects, AStreamOfAChildThatEndedEndsClosedAtItsNextPull) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(
        ctx, {.name = "streams-proc", .preload = kPreload, .restart_max = 1})));
    Request r = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_context(r.get(), ctx.get())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "iter(range(10))")));
    pyctx_stream_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_stream_open(r.get(), 2, nullptr, nullptr, nullptr, nullptr, &raw)));
    Stream s(raw);
    for (int want = 0; want < 2; ++want) {
        Bytes item;
        int done = 1;
        ASSERT_TRUE(IsOk(pyctx_stream_next(s.get(), 20000, item.out(), &done)));
        ASSERT_EQ(done, 0);
        EXPECT_EQ(as_int(item), want);
    }
    EXPECT_EQ(exec(ctx.get(), "import os; os._exit(3)").status(), PYCTX_ERR_CRASHED);
    EXPECT_EQ(eval_int(ctx.get(), "live_count()"), 0);  // the new child runs
    EXPECT_EQ(restarts_of(ctx.get()), 1u);

    Bytes item;
    int done = 0;
    Error e(pyctx_stream_next(s.get(), 20000, item.out(), &done));
    EXPECT_EQ(done, 1);
    ASSERT_NE(e.get(), nullptr);
    EXPECT_EQ(pyctx_error_status(e.get()), PYCTX_ERR_CLOSED) << describe(e.get());
    EXPECT_NE(describe(e.get()).find("stream belonged to a child process of context 'streams-proc'"),
              std::string::npos)
        << describe(e.get());
    EXPECT_EQ(pyctx_stream_is_done(s.get()), 1);
    // The new child streams as usual.
    EXPECT_EQ(eval_int(ctx.get(), "len(list(slow_stream(0)))"), 3);
}
