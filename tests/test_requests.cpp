// Synchronous requests: call (args, kwargs, dotted paths, __main__), eval
// (locals), exec, environments, and how Python errors come back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
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
bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}
} // namespace

class RequestTest : public ContextTest {};

TEST_P(RequestTest, CallWithArgsAndKwargs) {
    Outcome r = call(ctx(), "builtins", "sorted", cbor_array(RawCbor{cbor_array(3, 1, 2)}),
                     cbor_map("reverse", true));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int_list(r.value), (std::vector<int64_t>{3, 2, 1})) << diag(r.value);

    r = call(ctx(), "builtins", "abs", cbor_array(-5));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 5);
    // No args at all (NULL/0 buffers).
    r = call(ctx(), "os", "getpid");
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), static_cast<int64_t>(getpid()));
}

TEST_P(RequestTest, CallAFunctionDefinedByExecInMain) {
    ASSERT_TRUE(exec(ctx(), "def greet(name, *, punct='!'):\n    return 'hi ' + name + punct\n").ok());
    Outcome r = call(ctx(), "__main__", "greet", cbor_array("bob"), cbor_map("punct", "?"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "hi bob?");
    r = call(ctx(), "__main__", "greet", cbor_array("ann"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "hi ann!");

    // "__main__" is never cached: a redefinition is seen at once.
    ASSERT_TRUE(exec(ctx(), "def greet(name, *, punct='!'):\n    return 'bye ' + name\n").ok());
    r = call(ctx(), "__main__", "greet", cbor_array("bob"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "bye bob");
}

TEST_P(RequestTest, ExecClearsTheModuleFunctionCache) {
    // The function looked up in a module is cached per context; an exec
    // request clears that cache, so a patched function is picked up.
    Outcome r = call(ctx(), "json", "dumps", cbor_array(1));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "1");
    ASSERT_TRUE(exec(ctx(), "import json\n_orig_dumps = json.dumps\njson.dumps = lambda v: 'patched'\n").ok());
    r = call(ctx(), "json", "dumps", cbor_array(1));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "patched");
    ASSERT_TRUE(exec(ctx(), "json.dumps = _orig_dumps\n").ok());
}

TEST_P(RequestTest, DottedFunctionAndModulePaths) {
    Outcome r = call(ctx(), "os", "path.join", cbor_array("a", "b"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "a/b");
    r = call(ctx(), "os.path", "join", cbor_array("c", "d"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "c/d");
    r = call(ctx(), "pathlib", "PurePosixPath.__name__.upper");
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "PUREPOSIXPATH");
}

TEST_P(RequestTest, EvalWithLocals) {
    Outcome r = eval(ctx(), "a * b", nullptr, cbor_map("a", 6, "b", 7));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 42);
    r = eval(ctx(), "greeting + ', ' + name", nullptr, cbor_map("greeting", "hello", "name", "py"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_text(r.value), "hello, py");
    // Locals are per request: they do not leak into the namespace.
    EXPECT_TRUE(RaisesPython(eval(ctx(), "a").error.get(), "NameError"));
    // Locals shadow globals of the namespace.
    ASSERT_TRUE(exec(ctx(), "a = 1").ok());
    r = eval(ctx(), "a", nullptr, cbor_map("a", 2));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 2);
    EXPECT_EQ(eval_int(ctx(), "a"), 1);
}

TEST_P(RequestTest, DefaultNamespacePersistsAcrossRequests) {
    ASSERT_TRUE(exec(ctx(), "counter = 0").ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(exec(ctx(), "counter += 1").ok());
    EXPECT_EQ(eval_int(ctx(), "counter"), 5);
    // exec of an expression statement yields nothing; exec has no result.
    EXPECT_TRUE(exec(ctx(), "counter * 100").ok());
}

TEST_P(RequestTest, EnvironmentsAreSeparatePersistentNamespaces) {
    pyctx_env_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx(), &raw)));
    Env env(raw);
    pyctx_env_t *raw2 = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(ctx(), &raw2)));
    Env env2(raw2);

    ASSERT_TRUE(exec(ctx(), "x = 10", env.get()).ok());
    EXPECT_EQ(eval_int(ctx(), "x + 1", env.get()), 11);
    ASSERT_TRUE(exec(ctx(), "x += 5\ndef triple():\n    return x * 3\n", env.get()).ok());
    EXPECT_EQ(eval_int(ctx(), "x", env.get()), 15);
    EXPECT_EQ(eval_int(ctx(), "triple()", env.get()), 45);
    // Neither the default namespace nor another env sees it.
    EXPECT_TRUE(RaisesPython(eval(ctx(), "x").error.get(), "NameError"));
    EXPECT_TRUE(RaisesPython(eval(ctx(), "x", env2.get()).error.get(), "NameError"));
    // Locals work with an env too.
    Outcome r = eval(ctx(), "x + y", env.get(), cbor_map("y", 100));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 115);
}

TEST_P(RequestTest, EnvOfAnotherContextIsRejected) {
    Context other;
    ASSERT_TRUE(IsOk(create_context(other, mode())));
    pyctx_env_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_env_create(other.get(), &raw)));
    Env foreign(raw);
    ASSERT_TRUE(exec(other.get(), "z = 3", foreign.get()).ok());

    Outcome r = eval(ctx(), "z", foreign.get());
    EXPECT_EQ(r.status(), PYCTX_ERR_INVALID_ARGUMENT) << r.describe();
    r = exec(ctx(), "z = 4", foreign.get());
    EXPECT_EQ(r.status(), PYCTX_ERR_INVALID_ARGUMENT) << r.describe();
    EXPECT_EQ(eval_int(other.get(), "z", foreign.get()), 3) << "the env is untouched";
}

TEST_P(RequestTest, UnknownModuleAndFunction) {
    Outcome r = call(ctx(), "pyctx_no_such_module", "f");
    ASSERT_TRUE(RaisesPython(r.error.get(), "ModuleNotFoundError"));
    EXPECT_TRUE(contains(pyctx_error_message(r.error.get()), "pyctx_no_such_module")) << r.describe();

    r = call(ctx(), "math", "no_such_function");
    ASSERT_TRUE(RaisesPython(r.error.get(), "AttributeError"));
    EXPECT_TRUE(contains(pyctx_error_message(r.error.get()), "no_such_function")) << r.describe();

    r = call(ctx(), "os", "path.no_such_function");
    EXPECT_TRUE(RaisesPython(r.error.get(), "AttributeError"));

    r = call(ctx(), "__main__", "undefined_here");
    EXPECT_TRUE(RaisesPython(r.error.get(), "AttributeError") ||
                RaisesPython(r.error.get(), "NameError"))
        << r.describe();
}

TEST_P(RequestTest, PythonExceptionsCarryTypeMessageAndTraceback) {
    ASSERT_TRUE(exec(ctx(), "def explode_with(n):\n    raise ValueError(f'bad value {n}')\n").ok());
    Outcome r = call(ctx(), "__main__", "explode_with", cbor_array(3));
    ASSERT_TRUE(RaisesPython(r.error.get(), "ValueError"));
    EXPECT_STREQ(pyctx_error_message(r.error.get()), "bad value 3");
    std::string tb = pyctx_error_traceback(r.error.get());
    EXPECT_TRUE(contains(tb, "Traceback")) << tb;
    EXPECT_TRUE(contains(tb, "explode_with")) << tb;
    EXPECT_TRUE(contains(tb, "ValueError: bad value 3")) << tb;

    r = eval(ctx(), "1 / 0");
    EXPECT_TRUE(RaisesPython(r.error.get(), "ZeroDivisionError"));

    // Types outside builtins are qualified with their module.
    r = call(ctx(), "json", "loads", cbor_array("{"));
    EXPECT_TRUE(RaisesPython(r.error.get(), "json.decoder.JSONDecodeError"));

    r = exec(ctx(), "def broken(:\n");
    EXPECT_TRUE(RaisesPython(r.error.get(), "SyntaxError"));
    r = eval(ctx(), "x = 1");
    EXPECT_TRUE(RaisesPython(r.error.get(), "SyntaxError")) << "eval takes an expression";

    // The context keeps working after errors.
    EXPECT_EQ(eval_int(ctx(), "2 + 2"), 4);
}

TEST_P(RequestTest, UnencodableResultNamesItsType) {
    ASSERT_TRUE(exec(ctx(), "class Opaque:\n    pass\n").ok());
    Outcome r = eval(ctx(), "Opaque()");
    ASSERT_EQ(r.status(), PYCTX_ERR_ENCODE) << r.describe();
    EXPECT_TRUE(contains(pyctx_error_message(r.error.get()), "Opaque")) << r.describe();
    r = call(ctx(), "builtins", "object");
    ASSERT_EQ(r.status(), PYCTX_ERR_ENCODE) << r.describe();
    EXPECT_TRUE(contains(pyctx_error_message(r.error.get()), "object")) << r.describe();
}

TEST_P(RequestTest, ManyThreadsShareOneContext) {
    ASSERT_TRUE(exec(ctx(), "def square(n):\n    return n * n\n").ok());
    constexpr int kThreads = 8, kEach = 200;
    std::vector<int> wrong(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                int64_t n = t * 1000 + i;
                Outcome r = call(ctx(), "__main__", "square", cbor_array(n));
                if (!r.ok() || as_int(r.value) != n * n) ++wrong[t];
            }
        });
    }
    for (auto &t : threads) t.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(RequestTest);
