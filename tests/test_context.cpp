// Contexts: creation options, modes, preload, close, the closed-handle
// contract, the queue bound and the per-context counters.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

/** The kernel's name of a thread of this process ("" if it is gone). */
std::string thread_comm(uint64_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::string name;
    std::getline(f, name);
    return name;
}

} // namespace

TEST(ContextCreate, AppliesNamePreloadAndMode) {
    ContextSpec spec;
    spec.mode = PYCTX_MODE_WORKER;
    spec.name = "ctx-alpha";
    spec.preload = "PRELOADED = 6 * 7\n";
    spec.queue_capacity = 4;
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, spec)));
    EXPECT_EQ(pyctx_context_mode(ctx.get()), PYCTX_MODE_WORKER);
    EXPECT_STREQ(pyctx_context_name(ctx.get()), "ctx-alpha");
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 0);
    // The preload ran in the default namespace before any request.
    EXPECT_EQ(eval_int(ctx.get(), "PRELOADED"), 42);
    // The name is also the OS thread name.
    EXPECT_EQ(thread_comm(stats_of(ctx.get()).thread_id), "ctx-alpha");
}

TEST(ContextCreate, NullOptionsGiveAWorkerWithADefaultName) {
    pyctx_context_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_context_create(nullptr, &raw)));
    Context ctx(raw);
    EXPECT_EQ(pyctx_context_mode(ctx.get()), PYCTX_MODE_WORKER);
    EXPECT_EQ(std::string(pyctx_context_name(ctx.get())).rfind("pyctx-", 0), 0u)
        << pyctx_context_name(ctx.get());
    EXPECT_EQ(eval_int(ctx.get(), "1 + 1"), 2);

    Context second;
    ASSERT_TRUE(IsOk(create_context(second, PYCTX_MODE_WORKER)));
    EXPECT_STRNE(pyctx_context_name(ctx.get()), pyctx_context_name(second.get()))
        << "default names must tell contexts apart";
}

TEST(ContextCreate, ModeByName) {
    ContextOptions options(pyctx_context_options_new());
    ASSERT_TRUE(IsOk(pyctx_context_options_set_mode_name(options.get(), "worker")));
    pyctx_context_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_context_create(options.get(), &raw)));
    Context worker(raw);
    EXPECT_EQ(pyctx_context_mode(worker.get()), PYCTX_MODE_WORKER);

    ASSERT_TRUE(IsOk(pyctx_context_options_set_mode_name(options.get(), "owngil")));
    raw = nullptr;
    Error e(pyctx_context_create(options.get(), &raw));
    Context owngil(raw);
    if (pyctx_owngil_supported()) {
        ASSERT_TRUE(!e) << describe(e.get());
        EXPECT_EQ(pyctx_context_mode(owngil.get()), PYCTX_MODE_OWNGIL);
        EXPECT_EQ(eval_int(owngil.get(), "2 ** 10"), 1024);
    } else {
        EXPECT_EQ(status_of(e.get()), PYCTX_ERR_UNSUPPORTED) << describe(e.get());
        EXPECT_EQ(raw, nullptr);
    }
}

TEST(ContextCreate, InvalidModesAreRejected) {
    ContextOptions options(pyctx_context_options_new());
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode(options.get(), static_cast<pyctx_mode>(7)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode(options.get(), static_cast<pyctx_mode>(-1)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(options.get(), "turbo"),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(options.get(), "Worker "),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(options.get(), ""),
                          PYCTX_ERR_INVALID_ARGUMENT));
    // A rejected setting leaves the options as they were (worker).
    pyctx_context_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_context_create(options.get(), &raw)));
    Context ctx(raw);
    EXPECT_EQ(pyctx_context_mode(ctx.get()), PYCTX_MODE_WORKER);
}

TEST(ContextCreate, OwngilMatchesSupport) {
    Context ctx;
    Error e(create_context(ctx, PYCTX_MODE_OWNGIL));
    if (pyctx_owngil_supported()) {
        ASSERT_TRUE(!e) << describe(e.get());
        EXPECT_EQ(pyctx_context_mode(ctx.get()), PYCTX_MODE_OWNGIL);
        EXPECT_EQ(eval_int(ctx.get(), "sum(range(10))"), 45);
    } else {
        EXPECT_EQ(status_of(e.get()), PYCTX_ERR_UNSUPPORTED) << describe(e.get());
    }
}

class PreloadTest : public ModeTest {};

TEST_P(PreloadTest, RaisingPreloadFailsCreateWithThePythonError) {
    ContextSpec spec;
    spec.mode = mode();
    spec.preload = "def setup():\n    raise ValueError('bad preload 17')\nsetup()\n";
    ContextOptions options(pyctx_context_options_new());
    ASSERT_TRUE(IsOk(pyctx_context_options_set_mode(options.get(), spec.mode)));
    ASSERT_TRUE(IsOk(pyctx_context_options_set_preload(options.get(), spec.preload)));
    pyctx_context_t *const sentinel = reinterpret_cast<pyctx_context_t *>(uintptr_t{0x10});
    pyctx_context_t *raw = sentinel;
    Error e(pyctx_context_create(options.get(), &raw));
    ASSERT_TRUE(RaisesPython(e.get(), "ValueError"));
    EXPECT_STREQ(pyctx_error_message(e.get()), "bad preload 17") << "message is str(exception)";
    EXPECT_NE(std::string(pyctx_error_traceback(e.get())).find("setup"), std::string::npos)
        << describe(e.get());
    EXPECT_EQ(raw, sentinel);

    // A syntax error in the preload is reported the same way.
    ASSERT_TRUE(IsOk(pyctx_context_options_set_preload(options.get(), "def (:\n")));
    Error syntax(pyctx_context_create(options.get(), &raw));
    EXPECT_TRUE(RaisesPython(syntax.get(), "SyntaxError"));
    EXPECT_EQ(raw, sentinel);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(PreloadTest);

class CloseTest : public ModeTest {};

TEST_P(CloseTest, CloseIsIdempotentAndClosedHandlesRefuseWork) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    EXPECT_EQ(eval_int(ctx.get(), "3 * 3"), 9);

    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx.get(), 0)));

    // The handle stays usable for queries.
    EXPECT_EQ(pyctx_context_mode(ctx.get()), mode());
    EXPECT_NE(pyctx_context_name(ctx.get()), nullptr);

    EXPECT_EQ(eval(ctx.get(), "1").status(), PYCTX_ERR_CLOSED);
    EXPECT_EQ(exec(ctx.get(), "x = 1").status(), PYCTX_ERR_CLOSED);
    EXPECT_EQ(call(ctx.get(), "math", "gcd", cbor_array(4, 6)).status(), PYCTX_ERR_CLOSED);

    Collector collector;
    uint64_t id = 12345;
    EXPECT_TRUE(FailsWith(pyctx_eval_async(ctx.get(), "1", nullptr, nullptr, 0, 0, collector.fn(),
                                           collector.user_data(), &id),
                          PYCTX_ERR_CLOSED));
    EXPECT_TRUE(FailsWith(pyctx_exec_async(ctx.get(), "pass", nullptr, 0, collector.fn(),
                                           collector.user_data(), &id),
                          PYCTX_ERR_CLOSED));
    EXPECT_TRUE(FailsWith(pyctx_call_async(ctx.get(), "math", "gcd", nullptr, 0, nullptr, 0, 0,
                                           collector.fn(), collector.user_data(), &id),
                          PYCTX_ERR_CLOSED));
    EXPECT_EQ(id, 12345u) << "out_request_id must only be written on success";
    pyctx_env_t *env = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_env_create(ctx.get(), &env), PYCTX_ERR_CLOSED));
    EXPECT_EQ(env, nullptr);
    EXPECT_TRUE(FailsWithAnyOf(pyctx_cancel(ctx.get(), 1), {PYCTX_ERR_CLOSED, PYCTX_ERR_NOT_FOUND}));
    EXPECT_EQ(collector.count(), 0u);
}

TEST_P(CloseTest, EnvOfAClosedContextIsRefused) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    pyctx_env_t *raw_env = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx.get(), &raw_env)));
    Env env(raw_env);
    ASSERT_TRUE(exec(ctx.get(), "v = 5", env.get()).ok());
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_EQ(eval(ctx.get(), "v", env.get()).status(), PYCTX_ERR_CLOSED);
    // Freeing the env after its context closed is safe (ASan checks).
    env.reset();
}

TEST_P(CloseTest, FreeWithoutCloseReleasesAnOpenContext) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    uint64_t tid = stats_of(ctx.get()).thread_id;
    EXPECT_EQ(eval_int(ctx.get(), "__import__('threading').get_native_id()"),
              static_cast<int64_t>(tid));
    ctx.reset(); // closes without waiting; the thread finishes on its own
    Context next;
    ASSERT_TRUE(IsOk(create_context(next, mode())));
    EXPECT_EQ(eval_int(next.get(), "7 * 6"), 42);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(CloseTest);

class QueueTest : public ModeTest {};

TEST_P(QueueTest, FullQueueRefusesAtOnceAndAcceptedRequestsStillComplete) {
    constexpr size_t kCapacity = 2;
    ContextSpec spec;
    spec.mode = mode();
    spec.queue_capacity = kCapacity;
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, spec)));

    Gate gate;
    ASSERT_TRUE(gate.valid());
    Collector collector;
    Watchdog guard;
    // One request running (blocked on the gate) does not count as queued.
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), gate.py_block().c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(gate.wait_started());
    for (size_t i = 0; i < kCapacity; ++i)
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "40 + 2", nullptr, nullptr, 0, 0,
                                          collector.fn(), collector.user_data(), nullptr)));
    EXPECT_EQ(stats_of(ctx.get()).queue_depth, kCapacity);

    // The bound is reached: every kind of submission fails at once (the gate
    // is still closed, so a blocking submit would hang here).
    uint64_t id = 0;
    EXPECT_TRUE(FailsWith(pyctx_eval_async(ctx.get(), "1", nullptr, nullptr, 0, 0, collector.fn(),
                                           collector.user_data(), &id),
                          PYCTX_ERR_QUEUE_FULL));
    EXPECT_TRUE(FailsWith(pyctx_call_async(ctx.get(), "math", "gcd", nullptr, 0, nullptr, 0, 0,
                                           collector.fn(), collector.user_data(), &id),
                          PYCTX_ERR_QUEUE_FULL));
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(eval(ctx.get(), "1").status(), PYCTX_ERR_QUEUE_FULL);
    EXPECT_EQ(exec(ctx.get(), "pass").status(), PYCTX_ERR_QUEUE_FULL);
    EXPECT_EQ(collector.count(), 0u);

    gate.release();
    ASSERT_TRUE(collector.wait_for(1 + kCapacity));
    for (const Completion &c : collector.all()) EXPECT_EQ(c.status, PYCTX_OK) << c.message;
    EXPECT_EQ(collector.count(), 1 + kCapacity) << "refused submissions must never complete";

    // With room again, submissions are accepted.
    EXPECT_EQ(eval_int(ctx.get(), "5 + 5"), 10);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(QueueTest);

class StatsTest : public ModeTest {};

TEST_P(StatsTest, CountersFollowEveryOutcome) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    pyctx_context_stats_t s = stats_of(ctx.get());
    EXPECT_EQ(s.completed, 0u);
    EXPECT_EQ(s.failed + s.cancelled + s.timed_out + s.closed + s.queue_depth, 0u);
    EXPECT_NE(s.thread_id, 0u);
    EXPECT_NE(s.thread_id, static_cast<uint64_t>(current_tid()));

    // 3 successes (one of them tells us the thread id), 2 Python failures.
    EXPECT_EQ(eval_int(ctx.get(), "__import__('threading').get_native_id()"),
              static_cast<int64_t>(s.thread_id));
    EXPECT_EQ(eval_int(ctx.get(), "1"), 1);
    EXPECT_TRUE(exec(ctx.get(), "x = 1").ok());
    EXPECT_EQ(eval(ctx.get(), "1 / 0").status(), PYCTX_ERR_PYTHON);
    EXPECT_EQ(exec(ctx.get(), "raise KeyError('k')").status(), PYCTX_ERR_PYTHON);

    Watchdog guard;
    Gate gate;
    Collector collector;
    // Hold the context; queue one request to cancel and one to time out.
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), gate.py_block().c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(gate.wait_started());
    uint64_t to_cancel = 0;
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "1", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), &to_cancel)));
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "2", nullptr, nullptr, 0, 50, collector.fn(),
                                      collector.user_data(), nullptr)));
    EXPECT_EQ(stats_of(ctx.get()).queue_depth, 2u);
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx.get(), to_cancel)));
    ASSERT_TRUE(collector.wait_for(2)) << "queued cancel/timeout must complete without the queue moving";
    gate.release();
    ASSERT_TRUE(collector.wait_for(3));

    s = stats_of(ctx.get());
    EXPECT_EQ(s.completed, 4u);
    EXPECT_EQ(s.failed, 2u);
    EXPECT_EQ(s.cancelled, 1u);
    EXPECT_EQ(s.timed_out, 1u);
    EXPECT_EQ(s.closed, 0u);

    // Close with one request running (interrupted) and one queued.
    Gate spin;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx.get(), spin.py_spin().c_str(), nullptr, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(spin.wait_started());
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), "3", nullptr, nullptr, 0, 0, collector.fn(),
                                      collector.user_data(), nullptr)));
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    ASSERT_TRUE(collector.wait_for(5));

    // Counters remain readable after close.
    s = stats_of(ctx.get());
    EXPECT_EQ(s.completed, 4u);
    EXPECT_EQ(s.failed, 2u);
    EXPECT_EQ(s.cancelled, 1u);
    EXPECT_EQ(s.timed_out, 1u);
    EXPECT_EQ(s.closed, 2u);
    EXPECT_EQ(s.queue_depth, 0u);
}

TEST_P(StatsTest, ShortStatsSizeWritesOnlyThatPrefix) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode())));
    EXPECT_EQ(eval_int(ctx.get(), "1"), 1);
    // A caller built against an older header knows fewer fields.
    pyctx_context_stats_t s;
    std::memset(&s, 0xAB, sizeof s);
    ASSERT_TRUE(IsOk(pyctx_context_stats(ctx.get(), &s, offsetof(pyctx_context_stats_t, queue_depth))));
    EXPECT_EQ(s.completed, 1u);
    EXPECT_EQ(s.closed, 0u);
    EXPECT_EQ(s.queue_depth, 0xABABABABABABABABull);
    EXPECT_EQ(s.thread_id, 0xABABABABABABABABull);
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(StatsTest);
