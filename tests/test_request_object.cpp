// The request object (pyctx_request_*): its life cycle, reuse, waits with
// and without callbacks, cancel of a synchronous wait from another thread,
// timeouts, free while in flight, batches, and the waits that keep a
// context serving (cross-context host calls, coroutines called
// synchronously from a host function).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

std::optional<int64_t> int_value(pyctx_request_t *r) {
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(r, &len);
    return v ? as_int(v, len) : std::nullopt;
}

using RequestObjectTest = ContextTest;
PYCTX_INSTANTIATE_FOR_BOTH_MODES(RequestObjectTest);

TEST_P(RequestObjectTest, CallWaitAndReadTheResult) {
    Request r = new_request(ctx());
    Cbor args = cbor_array(20, 22);
    ASSERT_TRUE(IsOk(pyctx_request_set_call(r.get(), "operator", "add")));
    ASSERT_TRUE(IsOk(pyctx_request_set_args(r.get(), args.data(), args.size())));
    EXPECT_EQ(pyctx_request_id(r.get()), 0u);
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_INVALID_ARGUMENT);  // not done yet
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    EXPECT_NE(pyctx_request_id(r.get()), 0u);
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_is_done(r.get()), 1);
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_OK);
    EXPECT_EQ(pyctx_request_error(r.get()), nullptr);
    EXPECT_EQ(int_value(r.get()), 42);
    Bytes taken;
    ASSERT_TRUE(IsOk(pyctx_request_take_value(r.get(), taken.out())));
    EXPECT_EQ(as_int(taken), 42);
    EXPECT_EQ(pyctx_request_value(r.get(), nullptr), nullptr);  // moved out
}

TEST_P(RequestObjectTest, ResubmittedWithNewSettingsGetsANewIdAndResult) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "x * 3")));
    uint64_t last_id = 0;
    for (int x = 1; x <= 5; ++x) {
        Cbor locals = cbor_map("x", x);
        ASSERT_TRUE(IsOk(pyctx_request_set_kwargs(r.get(), locals.data(), locals.size())));
        ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
        EXPECT_GT(pyctx_request_id(r.get()), last_id);
        last_id = pyctx_request_id(r.get());
        ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
        EXPECT_EQ(int_value(r.get()), x * 3);
    }
    EXPECT_EQ(pyctx_request_get_kind(r.get()), PYCTX_REQUEST_EVAL);
}

TEST_P(RequestObjectTest, PythonErrorsAreStructured) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "1 // 0")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_PYTHON);
    const pyctx_error_t *e = pyctx_request_error(r.get());
    ASSERT_NE(e, nullptr);
    EXPECT_STREQ(pyctx_error_python_type(e), "ZeroDivisionError");
    EXPECT_NE(std::string(pyctx_error_traceback(e)).find("ZeroDivisionError"), std::string::npos);
    EXPECT_EQ(pyctx_request_value(r.get(), nullptr), nullptr);
}

struct CallbackLog {
    std::atomic<int> calls{0};
    std::atomic<int> freed{0};
    std::atomic<int> status{-1};
    std::atomic<bool> returned{false};
};

void log_callback(void *ud, pyctx_request_t *r) {
    auto *log = static_cast<CallbackLog *>(ud);
    log->status.store(pyctx_request_status(r));
    log->calls.fetch_add(1);
    // A wait must not return before this callback has returned.
    std::this_thread::yield();
    log->returned.store(true);
}
void log_free(void *ud) { static_cast<CallbackLog *>(ud)->freed.fetch_add(1); }

TEST_P(RequestObjectTest, AWaitReturnsAfterTheCallbackHasReturned) {
    CallbackLog log;
    {
        Request r = new_request(ctx());
        ASSERT_TRUE(IsOk(pyctx_request_set_callback(r.get(), log_callback, &log, log_free)));
        ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "sum(range(1000))")));
        for (int round = 1; round <= 3; ++round) {
            log.returned.store(false);
            ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
            ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
            EXPECT_TRUE(log.returned.load());
            EXPECT_EQ(log.calls.load(), round);
            EXPECT_EQ(log.status.load(), PYCTX_OK);
        }
        EXPECT_EQ(log.freed.load(), 0);
    }
    EXPECT_EQ(log.freed.load(), 1);  // released exactly once, with the request
}

TEST_P(RequestObjectTest, ASynchronousWaitIsCancelledFromAnotherThread) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    std::thread canceller([&] {
        // Cancel once the request runs (or is still queued: both are fine).
        EXPECT_TRUE(IsOk(pyctx_request_cancel(r.get())));
    });
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    canceller.join();
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_CANCELLED);
    Error again(pyctx_request_cancel(r.get()));
    EXPECT_EQ(status_of(again.get()), PYCTX_ERR_NOT_FOUND);
    // The context is still usable afterwards.
    EXPECT_EQ(eval_int(ctx(), "6 * 7"), 42);
}

TEST_P(RequestObjectTest, TheRequestTimeoutCompletesItAndAShortWaitDoesNot) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_request_set_timeout(r.get(), 200)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    // A wait shorter than the request's own deadline leaves it in flight.
    Error short_wait(pyctx_request_wait(r.get(), 1));
    if (short_wait) {
        EXPECT_EQ(status_of(short_wait.get()), PYCTX_ERR_TIMEOUT);
        EXPECT_EQ(pyctx_request_is_done(r.get()), 0);
    }
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_TIMEOUT);
}

TEST_P(RequestObjectTest, FreeWhileInFlightCancelsAndWaitsForTheCallback) {
    CallbackLog log;
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(raw, "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_request_set_callback(raw, log_callback, &log, log_free)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(raw)));
    pyctx_request_free(raw);
    // Free returned: the callback ran exactly once, as cancelled, and the
    // user data is released.
    EXPECT_EQ(log.calls.load(), 1);
    EXPECT_TRUE(log.returned.load());
    EXPECT_EQ(log.status.load(), PYCTX_ERR_CANCELLED);
    EXPECT_EQ(log.freed.load(), 1);
}

std::atomic<int> g_self_freed{0};
void free_in_callback(void *, pyctx_request_t *r) {
    g_self_freed.fetch_add(1);
    pyctx_request_free(r);
}

TEST_P(RequestObjectTest, ACallbackMayFreeItsRequest) {
    g_self_freed.store(0);
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(raw, "1")));
    ASSERT_TRUE(IsOk(pyctx_request_set_callback(raw, free_in_callback, nullptr, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(raw)));
    // No handle left to wait on: a later request on the same context is
    // ordered after it.
    EXPECT_EQ(eval_int(ctx(), "2"), 2);
    // Delivery may trail the later request's: wait for it (bounded), then
    // check it happened exactly once.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (g_self_freed.load() == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    EXPECT_EQ(g_self_freed.load(), 1);
}

// The id of a submission whose callback frees the request comes from
// pyctx_request_submit_id: the request may be gone when submit returns. An
// attached buffer travels with it and its loan ends once.
TEST_P(RequestObjectTest, SubmitIdGivesTheIdOfASubmissionWhoseCallbackFreesIt) {
    struct Seen {
        std::atomic<uint64_t> id{0};
        std::atomic<int> status{-1};
        std::atomic<int> finalized{0};
    };
    static Seen seen;
    seen.id = 0;
    seen.status = -1;
    seen.finalized = 0;
    static uint8_t bytes[16] = {1, 2, 3};
    pyctx_buffer_t *buffer = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_lend(bytes, sizeof bytes, 0,
                                       [](void *) { seen.finalized.fetch_add(1); }, nullptr, &buffer)));
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_call(raw, "builtins", "len")));
    uint32_t index = 99;
    ASSERT_TRUE(IsOk(pyctx_request_attach_buffer(raw, buffer, &index)));
    pyctx_buffer_free(buffer);
    CborBuilder c;
    c.array(1).tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{index});
    const Cbor args = c.take();
    ASSERT_TRUE(IsOk(pyctx_request_set_args(raw, args.data(), args.size())));
    auto record_and_free = [](void *, pyctx_request_t *r) {
        seen.status.store(pyctx_request_status(r));
        seen.id.store(pyctx_request_id(r));
        pyctx_request_free(r);
    };
    ASSERT_TRUE(IsOk(pyctx_request_set_callback(raw, record_and_free, nullptr, nullptr)));
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_request_submit_id(raw, &id)));
    EXPECT_NE(id, 0u);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((seen.id.load() == 0 || seen.finalized.load() == 0) &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    EXPECT_EQ(seen.id.load(), id);
    EXPECT_EQ(seen.status.load(), PYCTX_OK);
    EXPECT_EQ(seen.finalized.load(), 1);
    // Done: the id no longer names a pending request.
    EXPECT_TRUE(FailsWith(pyctx_cancel(ctx(), id), PYCTX_ERR_NOT_FOUND));

    // A refused submission reports 0 and keeps its settings.
    pyctx_request_t *fresh = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&fresh)));
    Request hold(fresh);
    uint64_t none = 7;
    EXPECT_TRUE(FailsWith(pyctx_request_submit_id(fresh, &none), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(none, 0u);
    EXPECT_TRUE(FailsWith(pyctx_request_submit_id(fresh, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST_P(RequestObjectTest, BadSettingsAreRefusedAndLeaveItNew) {
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    Request r(raw);
    Error no_ctx(pyctx_request_submit(r.get()));
    EXPECT_EQ(status_of(no_ctx.get()), PYCTX_ERR_INVALID_ARGUMENT);
    ASSERT_TRUE(IsOk(pyctx_request_set_context(r.get(), ctx())));
    Error no_kind(pyctx_request_submit(r.get()));
    EXPECT_EQ(status_of(no_kind.get()), PYCTX_ERR_INVALID_ARGUMENT);
    const uint8_t not_array[] = {0xa0};  // a map where an array belongs
    Error bad_args(pyctx_request_set_args(r.get(), not_array, sizeof not_array));
    EXPECT_EQ(status_of(bad_args.get()), PYCTX_ERR_DECODE);
    Error bad_module(pyctx_request_set_call(r.get(), "\xff", "f"));
    EXPECT_EQ(status_of(bad_module.get()), PYCTX_ERR_INVALID_ARGUMENT);
    Cbor args = cbor_array(1);
    ASSERT_TRUE(IsOk(pyctx_request_set_args(r.get(), args.data(), args.size())));
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "pass")));
    Error exec_args(pyctx_request_submit(r.get()));
    EXPECT_EQ(status_of(exec_args.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(pyctx_request_id(r.get()), 0u);
    Error wait_new(pyctx_request_wait(r.get(), 10));
    EXPECT_EQ(status_of(wait_new.get()), PYCTX_ERR_INVALID_ARGUMENT);

    // An env of another context is refused at submit.
    Context other;
    ASSERT_TRUE(IsOk(create_context(other, mode())));
    pyctx_env_t *env_raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(other.get(), &env_raw)));
    Env env(env_raw);
    ASSERT_TRUE(IsOk(pyctx_request_set_args(r.get(), nullptr, 0)));
    ASSERT_TRUE(IsOk(pyctx_request_set_env(r.get(), env.get())));
    Error wrong_env(pyctx_request_submit(r.get()));
    EXPECT_EQ(status_of(wrong_env.get()), PYCTX_ERR_INVALID_ARGUMENT);
}

TEST_P(RequestObjectTest, SettersAreRefusedWhileInFlight) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    Error setter(pyctx_request_set_eval(r.get(), "1"));
    EXPECT_EQ(status_of(setter.get()), PYCTX_ERR_INVALID_ARGUMENT);
    Error twice(pyctx_request_submit(r.get()));
    EXPECT_EQ(status_of(twice.get()), PYCTX_ERR_INVALID_ARGUMENT);
    ASSERT_TRUE(IsOk(pyctx_request_cancel(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_get_kind(r.get()), PYCTX_REQUEST_EXEC);
}

TEST_P(RequestObjectTest, SubmitManyRunsEveryRequestOnce) {
    constexpr int kCount = 500;
    std::vector<Request> owned;
    std::vector<pyctx_request_t *> batch;
    for (int i = 0; i < kCount; ++i) {
        owned.push_back(new_request(ctx()));
        Cbor args = cbor_array(i, 1000);
        ASSERT_TRUE(IsOk(pyctx_request_set_call(owned.back().get(), "operator", "add")));
        ASSERT_TRUE(IsOk(pyctx_request_set_args(owned.back().get(), args.data(), args.size())));
        batch.push_back(owned.back().get());
    }
    size_t accepted = 0;
    ASSERT_TRUE(IsOk(pyctx_request_submit_many(batch.data(), batch.size(), &accepted)));
    EXPECT_EQ(accepted, static_cast<size_t>(kCount));
    for (int i = 0; i < kCount; ++i) {
        ASSERT_TRUE(IsOk(pyctx_request_wait(batch[i], PYCTX_NO_TIMEOUT)));
        EXPECT_EQ(int_value(batch[i]), i + 1000) << "request " << i;
    }
    // A request listed twice is refused, after the ones before it went in.
    pyctx_request_t *dup[] = {batch[0], batch[1], batch[0]};
    Error e(pyctx_request_submit_many(dup, 3, &accepted));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(accepted, 2u);
    ASSERT_TRUE(IsOk(pyctx_request_wait(batch[0], PYCTX_NO_TIMEOUT)));
    ASSERT_TRUE(IsOk(pyctx_request_wait(batch[1], PYCTX_NO_TIMEOUT)));
}

TEST_P(RequestObjectTest, SubmitManyStopsAtAFullQueueAndRefusedOnesNeverComplete) {
    ContextSpec spec;
    spec.mode = mode();
    spec.queue_capacity = 4;
    Context bounded;
    ASSERT_TRUE(IsOk(create_context(bounded, spec)));
    // Hold the thread in Python so the queue cannot drain meanwhile.
    Request blocker = new_request(bounded.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(blocker.get(), "while True: pass")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(blocker.get())));
    while (stats_of(bounded.get()).queue_depth != 0) std::this_thread::yield();

    std::vector<CallbackLog> logs(10);
    std::vector<Request> owned;
    std::vector<pyctx_request_t *> batch;
    for (auto &log : logs) {
        owned.push_back(new_request(bounded.get()));
        ASSERT_TRUE(IsOk(pyctx_request_set_eval(owned.back().get(), "7")));
        ASSERT_TRUE(IsOk(pyctx_request_set_callback(owned.back().get(), log_callback, &log, nullptr)));
        batch.push_back(owned.back().get());
    }
    size_t accepted = 99;
    Error e(pyctx_request_submit_many(batch.data(), batch.size(), &accepted));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_QUEUE_FULL);
    EXPECT_EQ(accepted, 4u);
    // Let the queue drain: interrupt the blocker.
    ASSERT_TRUE(IsOk(pyctx_request_cancel(blocker.get())));
    for (size_t i = 0; i < accepted; ++i) {
        ASSERT_TRUE(IsOk(pyctx_request_wait(batch[i], PYCTX_NO_TIMEOUT)));
        EXPECT_EQ(int_value(batch[i]), 7);
    }
    for (size_t i = accepted; i < batch.size(); ++i) {
        EXPECT_EQ(pyctx_request_is_done(batch[i]), 0);
        EXPECT_EQ(pyctx_request_id(batch[i]), 0u);
    }
    EXPECT_TRUE(IsOk(pyctx_context_close(bounded.get(), 5000)));
    for (size_t i = accepted; i < logs.size(); ++i) EXPECT_EQ(logs[i].calls.load(), 0);
}

// ---- waits that keep a context serving -----------------------------------

struct Pair {
    pyctx_context_t *a = nullptr;
    pyctx_context_t *b = nullptr;
};
Pair g_pair;

// Host function "to_other": called by Python in context X with (name, n);
// synchronously calls `bounce(n - 1)` in the other context.
void to_other(void *, pyctx_host_call_t *call) {
    std::string from = pyctx_host_call_context_name(call);
    size_t len = 0;
    const uint8_t *args = pyctx_host_call_args(call, &len);
    auto list = as_int_list(args, len);
    int64_t n = list && !list->empty() ? (*list)[0] : 0;
    pyctx_context_t *other = from == pyctx_context_name(g_pair.a) ? g_pair.b : g_pair.a;
    Cbor next = cbor_array(n - 1);
    Bytes out;
    pyctx_error_t *e = pyctx_call(other, "__main__", "bounce", next.data(), next.size(), nullptr, 0,
                                  10000, out.out());
    if (e) {
        pyctx_host_call_fail(call, pyctx_error_message(e));
        pyctx_error_free(e);
        return;
    }
    pyctx_host_call_return(call, out.data(), out.size());
}

TEST_P(RequestObjectTest, TwoContextsCallingEachOtherSynchronouslyDoNotDeadlock) {
    ASSERT_TRUE(IsOk(pyctx_host_register("to_other", to_other, nullptr, nullptr)));
    const char *preload =
        "import pyctx\n"
        "def bounce(n):\n"
        "    return 0 if n <= 0 else 1 + pyctx.call('to_other', n)\n";
    ContextSpec spec;
    spec.mode = mode();
    spec.preload = preload;
    spec.name = "ping";
    Context a, b;
    ASSERT_TRUE(IsOk(create_context(a, spec)));
    spec.name = "pong";
    ASSERT_TRUE(IsOk(create_context(b, spec)));
    g_pair = Pair{a.get(), b.get()};
    // ping -> pong -> ping -> ... six hops deep, each a blocking pyctx_call
    // made on the other context's thread.
    Outcome o = call(a.get(), "__main__", "bounce", cbor_array(6), {}, 20000);
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 6);
    EXPECT_TRUE(IsOk(pyctx_host_unregister("to_other")));
}

pyctx_context_t *g_self = nullptr;
void call_coroutine_inline(void *, pyctx_host_call_t *call) {
    Bytes out;
    pyctx_error_t *e = pyctx_call(g_self, "__main__", "coro", nullptr, 0, nullptr, 0, 10000, out.out());
    if (e) {
        pyctx_host_call_fail(call, pyctx_error_message(e));
        pyctx_error_free(e);
        return;
    }
    pyctx_host_call_return(call, out.data(), out.size());
}

TEST_P(RequestObjectTest, ASyncCallOfACoroutineFromAHostFunctionReturnsItsValue) {
    ASSERT_TRUE(IsOk(pyctx_host_register("coro_inline", call_coroutine_inline, nullptr, nullptr)));
    g_self = ctx();
    ASSERT_TRUE(exec(ctx(),
                     "import asyncio, pyctx\n"
                     "async def coro():\n"
                     "    await asyncio.sleep(0.01)\n"
                     "    return 41 + 1\n"
                     "def outer():\n"
                     "    return pyctx.call('coro_inline')\n")
                    .ok());
    Outcome o = call(ctx(), "__main__", "outer");
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 42);
    EXPECT_TRUE(IsOk(pyctx_host_unregister("coro_inline")));
}

}  // namespace
