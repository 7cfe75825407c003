// Process contexts: call, eval and exec, sync and async, Python errors,
// envs, preload, the crashed status and its name, the mode by name.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

TEST(ProcessBasic, StatusAndModeNames) {
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_CRASHED), "crashed");
    ContextOptions options(pyctx_context_options_new());
    EXPECT_TRUE(IsOk(pyctx_context_options_set_mode_name(options.get(), "process")));
    Error bad(pyctx_context_options_set_mode_name(options.get(), "forked"));
    ASSERT_EQ(status_of(bad.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pyctx_error_message(bad.get())).find("'process'"), std::string::npos);
    EXPECT_TRUE(IsOk(pyctx_context_options_set_mode(options.get(), PYCTX_MODE_PROCESS)));
    EXPECT_EQ(status_of(Error(pyctx_context_options_set_mode(options.get(), (pyctx_mode)3)).get()),
              PYCTX_ERR_INVALID_ARGUMENT);
}

TEST(ProcessBasic, RunsInAChildOnItsMainInterpreter) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.name = "proc-basic"})));
    EXPECT_EQ(pyctx_context_mode(ctx.get()), PYCTX_MODE_PROCESS);
    uint64_t pid = child_pid(ctx.get());
    ASSERT_NE(pid, 0u);
    EXPECT_NE(pid, static_cast<uint64_t>(getpid()));
    EXPECT_EQ(eval_int(ctx.get(), "__import__('os').getpid()"), static_cast<int64_t>(pid));
    EXPECT_EQ(eval_int(ctx.get(), "__import__('os').getppid()"), static_cast<int64_t>(getpid()));
    // The main interpreter, on the child's main thread.
    EXPECT_EQ(eval_bool(ctx.get(),
                        "__import__('threading').current_thread() is "
                        "__import__('threading').main_thread()"),
              true);
    pyctx_context_stats_t s = stats_of(ctx.get());
    EXPECT_EQ(s.thread_id, pid);
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 5000)));
    EXPECT_TRUE(reaped(pid));
    EXPECT_EQ(child_pid(ctx.get()), 0u);
}

TEST(ProcessBasic, CallEvalExecValuesAndErrors) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = "def add(a, b=0):\n    return a + b\n"})));
    EXPECT_EQ(eval_int(ctx.get(), "6 * 7"), 42);
    EXPECT_TRUE(exec(ctx.get(), "x = 'hi' * 2").ok());
    EXPECT_EQ(eval_text(ctx.get(), "x"), "hihi");
    Outcome o = call(ctx.get(), "math", "gcd", cbor_array(12, 18));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 6);
    CborBuilder kw;
    kw.map(1).put("b").put(5);
    o = call(ctx.get(), "__main__", "add", cbor_array(1), kw.take());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 6);
    // Locals for eval.
    CborBuilder locals;
    locals.map(1).put("y").put(9);
    o = eval(ctx.get(), "y + 1", nullptr, locals.take());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 10);
    // A Python error with its type and traceback.
    o = eval(ctx.get(), "1/0");
    ASSERT_EQ(o.status(), PYCTX_ERR_PYTHON);
    EXPECT_TRUE(RaisesPython(o.error.get(), "ZeroDivisionError"));
    EXPECT_NE(std::string(pyctx_error_traceback(o.error.get())).find("ZeroDivisionError"),
              std::string::npos);
    o = exec(ctx.get(), "raise ValueError('bad value')");
    EXPECT_TRUE(RaisesPython(o.error.get(), "ValueError"));
    EXPECT_STREQ(pyctx_error_message(o.error.get()), "bad value");
    // An unencodable result names its type.
    o = eval(ctx.get(), "object()");
    EXPECT_EQ(o.status(), PYCTX_ERR_ENCODE);
    // Big values cross (several MiB stay within one message).
    EXPECT_EQ(eval_int(ctx.get(), "len(b'x' * (1 << 20))"), 1 << 20);
    o = eval(ctx.get(), "b'x' * (1 << 20)");
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_GT(o.value.size(), size_t{1} << 20);
    // Beyond one message: a clear error, and the context keeps serving.
    o = eval(ctx.get(), "b'x' * (8 << 20)");
    EXPECT_EQ(o.status(), PYCTX_ERR_ENCODE) << o.describe();
    EXPECT_EQ(eval_int(ctx.get(), "1 + 1"), 2);
}

TEST(ProcessBasic, AsyncCompletionsArriveOnceEach) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    Collector collector;
    constexpr int kN = 500;
    for (int i = 0; i < kN; ++i) {
        std::string expr = std::to_string(i) + " * 2";
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx.get(), expr.c_str(), nullptr, nullptr, 0, PYCTX_NO_TIMEOUT,
                                          collector.fn(), collector.user_data(), nullptr)));
    }
    ASSERT_TRUE(collector.wait_for(kN));
    EXPECT_EQ(collector.duplicates(), 0u);
    int64_t sum = 0;
    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        EXPECT_FALSE(c.inside_submit);
        sum += *as_int(c.value.data(), c.value.size());
    }
    EXPECT_EQ(sum, int64_t{kN} * (kN - 1));
}

TEST(ProcessBasic, EnvsAreSeparateNamespaces) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    pyctx_env_t *a = nullptr, *b = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx.get(), &a)));
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx.get(), &b)));
    Env ea(a), eb(b);
    EXPECT_TRUE(exec(ctx.get(), "v = 1", a).ok());
    EXPECT_TRUE(exec(ctx.get(), "v = 2", b).ok());
    EXPECT_EQ(eval_int(ctx.get(), "v", a), 1);
    EXPECT_EQ(eval_int(ctx.get(), "v", b), 2);
    EXPECT_EQ(eval(ctx.get(), "v").status(), PYCTX_ERR_PYTHON);  // not in the default one
}

TEST(ProcessBasic, PreloadErrorFailsCreate) {
    Context ctx;
    Error e(create_process_context(ctx, {.preload = "raise RuntimeError('no start')"}));
    ASSERT_EQ(status_of(e.get()), PYCTX_ERR_PYTHON) << describe(e.get());
    EXPECT_STREQ(pyctx_error_message(e.get()), "no start");
    EXPECT_EQ(zombie_children(), 0);
}

TEST(ProcessBasic, MissingHelperIsNotFound) {
    Context ctx;
    Error e(create_process_context(ctx, {.helper = "/nonexistent/pyctx-process-helper"}));
    ASSERT_EQ(status_of(e.get()), PYCTX_ERR_NOT_FOUND) << describe(e.get());
    EXPECT_NE(std::string(pyctx_error_message(e.get())).find("/nonexistent"), std::string::npos);
}

TEST(ProcessBasic, HostDescriptorsAreNotInherited) {
    // A descriptor the host left inheritable (no close-on-exec) stays out.
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(dup2(fds[0], 100), 100);
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    auto open = eval(ctx.get(), "sorted(int(f) for f in __import__('os').listdir('/proc/self/fd'))");
    ASSERT_TRUE(open.ok()) << open.describe();
    auto list = as_int_list(open.value);
    ASSERT_TRUE(list);
    // 0-2 and the channel (3-5), plus what Python itself opened since.
    EXPECT_EQ(std::count(list->begin(), list->end(), 100), 0);
    for (int fd : {0, 1, 2, 3, 4, 5}) EXPECT_EQ(std::count(list->begin(), list->end(), fd), 1) << fd;
    close(100);
    close(fds[0]);
    close(fds[1]);
}
