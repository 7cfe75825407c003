// The whole life of the process-wide runtime, in order, in one process:
// UNINIT -> (concurrent init with options) -> RUNNING -> shutdown with
// pending requests -> STOPPED. The state is process-wide and one-way, so the
// steps are tests of one suite that gtest runs in definition order; each step
// relies on the previous ones. This binary deliberately has no runtime
// Environment.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/temp_dir.h"
#include "support/watchdog.h"

using namespace pyctx_test;

namespace {

TempDir g_first_path;  // added first: must come first on sys.path
TempDir g_second_path; // added second

// Host function registered before init: proves registration is allowed in
// UNINIT and that its finalizer runs once, at shutdown.
std::atomic<int> g_echo_finalized{0};
void echo_host_fn(void *, pyctx_host_call_t *call) {
    // args is the array [x]: answer with x, the bytes after the array head.
    size_t len = 0;
    const uint8_t *args = pyctx_host_call_args(call, &len);
    pyctx_cbor_reader_t reader;
    pyctx_cbor_reader_init(&reader, args, len);
    pyctx_cbor_item_t head{};
    Error bad(pyctx_cbor_read(&reader, &head));
    if (bad || head.type != PYCTX_CBOR_ARRAY || head.count != 1) {
        Error e(pyctx_host_call_fail(call, "lifecycle_echo takes one argument"));
        return;
    }
    Error e(pyctx_host_call_return(call, args + reader.pos, len - reader.pos));
    EXPECT_TRUE(!e) << describe(e.get());
}
void echo_finalizer(void *) { g_echo_finalized.fetch_add(1); }

// Handles that outlive the shutdown step, checked afterwards.
pyctx_context_t *g_worker_after_shutdown = nullptr;
pyctx_context_t *g_owngil_after_shutdown = nullptr;

} // namespace

TEST(Lifecycle, Step1_BeforeInitNothingRuns) {
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_UNINIT);
    EXPECT_STREQ(pyctx_python_version(), "");

    pyctx_context_t *const sentinel = reinterpret_cast<pyctx_context_t *>(uintptr_t{0x10});
    pyctx_context_t *ctx = sentinel;
    EXPECT_TRUE(FailsWith(pyctx_context_create(nullptr, &ctx), PYCTX_ERR_NOT_RUNNING));
    ContextOptions options(pyctx_context_options_new());
    ASSERT_NE(options, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_context_create(options.get(), &ctx), PYCTX_ERR_NOT_RUNNING));
    EXPECT_EQ(ctx, sentinel) << "out_context must only be written on success";

    EXPECT_TRUE(FailsWith(pyctx_shutdown(100), PYCTX_ERR_NOT_RUNNING));

    // Without a runtime there is no context; a request on none is refused
    // either because of the missing handle or the stopped runtime.
    pyctx_bytes_t out{nullptr, 0};
    EXPECT_TRUE(FailsWithAnyOf(pyctx_call(nullptr, "math", "gcd", nullptr, 0, nullptr, 0, 0, &out),
                               {PYCTX_ERR_NOT_RUNNING, PYCTX_ERR_INVALID_ARGUMENT}));

    // Host functions may be registered before init.
    EXPECT_TRUE(IsOk(pyctx_host_register("lifecycle_echo", echo_host_fn, nullptr, echo_finalizer)));

    // None of the refused calls moved the state.
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_UNINIT);
}

TEST(Lifecycle, Step2_ConcurrentInitHasExactlyOneWinner) {
    ASSERT_FALSE(g_first_path.path().empty());
    ASSERT_FALSE(g_second_path.path().empty());
    g_first_path.write("pyctx_lifecycle_probe.py", "VALUE = 42\n");

    constexpr int kThreads = 8;
    std::vector<pyctx_status> statuses(kThreads, PYCTX_ERR_INTERNAL);
    std::vector<pyctx_state> states_after(kThreads, PYCTX_STATE_UNINIT);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    Watchdog guard;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            // Each thread builds its own options (the builder is not
            // thread-safe itself); all ask for the same configuration.
            RuntimeOptions options(pyctx_runtime_options_new());
            EXPECT_TRUE(IsOk(pyctx_runtime_options_add_path(options.get(), g_first_path.path().c_str())));
            EXPECT_TRUE(IsOk(pyctx_runtime_options_add_path(options.get(), g_second_path.path().c_str())));
#ifdef PYCTX_TEST_PYTHON
            EXPECT_TRUE(IsOk(pyctx_runtime_options_set_program_name(options.get(), PYCTX_TEST_PYTHON)));
#endif
            start.arrive_and_wait();
            Error e(pyctx_init(options.get()));
            statuses[i] = status_of(e.get());
            states_after[i] = pyctx_runtime_state();
        });
    }
    for (auto &t : threads) t.join();

    int winners = 0, already = 0;
    for (int i = 0; i < kThreads; ++i) {
        winners += statuses[i] == PYCTX_OK;
        already += statuses[i] == PYCTX_ERR_ALREADY_INITIALIZED;
        // Losers wait until the runtime has left INITING before returning.
        EXPECT_EQ(states_after[i], PYCTX_STATE_RUNNING) << "thread " << i;
    }
    EXPECT_EQ(winners, 1);
    EXPECT_EQ(already, kThreads - 1);
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_RUNNING);
    EXPECT_TRUE(FailsWith(pyctx_init(nullptr), PYCTX_ERR_ALREADY_INITIALIZED));
}

TEST(Lifecycle, Step3_RuntimeOptionsTakeEffect) {
    ASSERT_EQ(pyctx_runtime_state(), PYCTX_STATE_RUNNING);
    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));

    EXPECT_STRNE(pyctx_python_version(), "");
    EXPECT_EQ(eval_text(worker.get(), "__import__('platform').python_version()"),
              std::string(pyctx_python_version()));

    // A module from an added path is importable.
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_lifecycle_probe').VALUE"), 42);

    // Both paths are on sys.path, in the order added, ahead of the stdlib.
    Cbor paths = cbor_map("first", g_first_path.path(), "second", g_second_path.path());
    Outcome order = eval(worker.get(),
                         // (names inside a lambda would not see eval's locals: pass them)
                         "(lambda p, a, b, stdlib: p.index(a) < p.index(b) < p.index(stdlib))"
                         "(__import__('sys').path, first, second, "
                         "__import__('os').path.dirname(__import__('os').__file__))",
                         nullptr, paths);
    ASSERT_TRUE(order.ok()) << order.describe();
    EXPECT_EQ(as_bool(order.value), true) << "sys.path order";

#ifdef PYCTX_TEST_PYTHON
    Outcome exe = eval(worker.get(),
                       "__import__('os').path.realpath(__import__('sys').executable) == "
                       "__import__('os').path.realpath(name)",
                       nullptr, cbor_map("name", PYCTX_TEST_PYTHON));
    ASSERT_TRUE(exe.ok()) << exe.describe();
    EXPECT_EQ(as_bool(exe.value), true) << "program name did not become sys.executable: "
                                        << diag(eval(worker.get(), "__import__('sys').executable").value);
#endif

    // A host function registered before init is callable.
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx').call('lifecycle_echo', 7)"), 7);

    if (pyctx_owngil_supported()) {
        // Added paths apply to every interpreter, subinterpreters included.
        Context owngil;
        ASSERT_TRUE(IsOk(create_context(owngil, PYCTX_MODE_OWNGIL)));
        EXPECT_EQ(eval_int(owngil.get(), "__import__('pyctx_lifecycle_probe').VALUE"), 42);
    }
}

TEST(Lifecycle, Step4_ShutdownCompletesEveryPendingRequestAsClosed) {
    ASSERT_EQ(pyctx_runtime_state(), PYCTX_STATE_RUNNING);
    constexpr size_t kQueued = 5;

    // Each context runs a request that only an interrupt ends, with more
    // queued behind it; shutdown must complete all of them. (Request ids are
    // unique per context: one collector each.)
    struct Busy {
        Context ctx;
        Gate gate;
        Collector collector;
    };
    auto occupy = [&](Busy &b) {
        {
            SubmitScope scope;
            ASSERT_TRUE(IsOk(pyctx_exec_async(b.ctx.get(), b.gate.py_spin().c_str(), nullptr,
                                              PYCTX_NO_TIMEOUT, b.collector.fn(),
                                              b.collector.user_data(), nullptr)));
        }
        ASSERT_TRUE(b.gate.wait_started());
        for (size_t i = 0; i < kQueued; ++i) {
            SubmitScope scope;
            ASSERT_TRUE(IsOk(pyctx_eval_async(b.ctx.get(), "1 + 1", nullptr, nullptr, 0,
                                              PYCTX_NO_TIMEOUT, b.collector.fn(),
                                              b.collector.user_data(), nullptr)));
        }
    };

    Busy worker, owngil;
    ASSERT_TRUE(IsOk(create_context(worker.ctx, PYCTX_MODE_WORKER)));
    occupy(worker);
    if (pyctx_owngil_supported()) {
        ASSERT_TRUE(IsOk(create_context(owngil.ctx, PYCTX_MODE_OWNGIL)));
        occupy(owngil);
    }

    {
        Watchdog guard;
        ASSERT_TRUE(IsOk(pyctx_shutdown(10000)));
    }
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);

    // Shutdown waits for every completion callback: all have arrived now.
    for (Busy *b : {&worker, &owngil}) {
        if (!b->ctx) continue;
        SCOPED_TRACE(mode_name(pyctx_context_mode(b->ctx.get())));
        std::vector<Completion> done = b->collector.all();
        EXPECT_EQ(done.size(), 1 + kQueued);
        EXPECT_EQ(b->collector.duplicates(), 0u);
        for (const Completion &c : done) {
            EXPECT_EQ(c.status, PYCTX_ERR_CLOSED) << "request " << c.request_id;
            EXPECT_FALSE(c.inside_submit);
        }
    }

    // The finalizer of the host function registered before init ran once.
    EXPECT_EQ(g_echo_finalized.load(), 1);

    g_worker_after_shutdown = worker.ctx.release();
    g_owngil_after_shutdown = owngil.ctx.release();
}

TEST(Lifecycle, Step5_AfterShutdownEverythingReportsNotRunning) {
    ASSERT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);
    EXPECT_TRUE(FailsWith(pyctx_init(nullptr), PYCTX_ERR_ALREADY_INITIALIZED));
    EXPECT_TRUE(FailsWith(pyctx_shutdown(100), PYCTX_ERR_NOT_RUNNING));

    pyctx_context_t *ctx = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_context_create(nullptr, &ctx), PYCTX_ERR_NOT_RUNNING));
    EXPECT_EQ(ctx, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_host_register("late", echo_host_fn, nullptr, nullptr),
                          PYCTX_ERR_NOT_RUNNING));

    // Handles created before shutdown stay valid until freed and refuse work.
    Collector collector;
    for (pyctx_context_t *old : {g_worker_after_shutdown, g_owngil_after_shutdown}) {
        if (!old) continue;
        SCOPED_TRACE(mode_name(pyctx_context_mode(old)));
        EXPECT_EQ(pyctx_context_is_closed(old), 1);
        Outcome r = eval(old, "1 + 1");
        EXPECT_EQ(r.status(), PYCTX_ERR_NOT_RUNNING) << r.describe();
        r = call(old, "math", "gcd", cbor_array(4, 6));
        EXPECT_EQ(r.status(), PYCTX_ERR_NOT_RUNNING) << r.describe();
        r = exec(old, "x = 1");
        EXPECT_EQ(r.status(), PYCTX_ERR_NOT_RUNNING) << r.describe();
        EXPECT_TRUE(FailsWith(pyctx_eval_async(old, "1", nullptr, nullptr, 0, 0, collector.fn(),
                                               collector.user_data(), nullptr),
                              PYCTX_ERR_NOT_RUNNING));
        pyctx_env_t *env = nullptr;
        EXPECT_TRUE(FailsWith(pyctx_env_create(old, &env), PYCTX_ERR_NOT_RUNNING));
        // Closing again is harmless (bindings' finalizers do it late).
        Error closed(pyctx_context_close(old, 100));
        EXPECT_TRUE(!closed || status_of(closed.get()) == PYCTX_ERR_NOT_RUNNING)
            << describe(closed.get());
    }
    EXPECT_EQ(collector.count(), 0u) << "a refused submission must never complete";

    pyctx_context_free(g_worker_after_shutdown);
    pyctx_context_free(g_owngil_after_shutdown);
    EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);
}
