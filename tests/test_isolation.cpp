// Isolation between contexts: owngil contexts are separate interpreters
// (globals, sys, modules); worker contexts share the main interpreter's
// modules but each has its own default namespace. An extension module with
// legacy single-phase init imports in a worker context and fails with
// ImportError in an owngil one.
#include <gtest/gtest.h>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

// The directory of the test extension module (built by tests/extra.cmake).
static auto *const g_runtime = install_runtime([](pyctx_runtime_options_t *options) {
#ifdef PYCTX_TEST_EXT_DIR
    EXPECT_TRUE(IsOk(pyctx_runtime_options_add_path(options, PYCTX_TEST_EXT_DIR)));
#else
    (void)options;
#endif
});

// A macro, not a function: GTEST_SKIP() returns from the enclosing function.
#define SKIP_WITHOUT_OWNGIL()                                                                       \
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+"

TEST(OwngilIsolation, GlobalsOfOneContextAreInvisibleInAnother) {
    SKIP_WITHOUT_OWNGIL();
    Context a, b;
    ASSERT_TRUE(IsOk(create_context(a, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(IsOk(create_context(b, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(exec(a.get(), "secret = 1234").ok());
    EXPECT_EQ(eval_int(a.get(), "secret"), 1234);
    Outcome r = eval(b.get(), "secret");
    EXPECT_TRUE(RaisesPython(r.error.get(), "NameError"));
}

TEST(OwngilIsolation, SysAndModulesAreSeparateInterpreters) {
    SKIP_WITHOUT_OWNGIL();
    Context a, b, worker;
    ASSERT_TRUE(IsOk(create_context(a, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(IsOk(create_context(b, PYCTX_MODE_OWNGIL)));
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(exec(a.get(), "import sys, json\nsys.pyctx_marker = 'a'\njson.pyctx_marker = 'a'").ok());
    const char *probe = "hasattr(__import__('sys'), 'pyctx_marker') or "
                        "hasattr(__import__('json'), 'pyctx_marker')";
    EXPECT_EQ(eval_bool(b.get(), probe), false);
    EXPECT_EQ(eval_bool(worker.get(), probe), false);
    EXPECT_EQ(eval_bool(a.get(), probe), true);
    // Distinct interpreters have distinct sys modules.
    EXPECT_NE(eval_int(a.get(), "id(__import__('sys'))"), eval_int(b.get(), "id(__import__('sys'))"));
}

TEST(WorkerIsolation, DefaultNamespacesAreSeparateButModulesAreShared) {
    Context a, b;
    ASSERT_TRUE(IsOk(create_context(a, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(IsOk(create_context(b, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(exec(a.get(), "only_in_a = 5").ok());
    EXPECT_EQ(eval_int(a.get(), "only_in_a"), 5);
    EXPECT_TRUE(RaisesPython(eval(b.get(), "only_in_a").error.get(), "NameError"));
    // Documented: workers share modules and sys state (one interpreter).
    ASSERT_TRUE(exec(a.get(), "import sys\nsys.pyctx_shared_marker = 77").ok());
    EXPECT_EQ(eval_int(b.get(), "__import__('sys').pyctx_shared_marker"), 77);
    ASSERT_TRUE(exec(b.get(), "del __import__('sys').pyctx_shared_marker").ok());
}

TEST(SinglePhaseExtension, ImportsInAWorkerContext) {
#ifndef PYCTX_TEST_EXT_DIR
    GTEST_SKIP() << "test extension module not built";
#endif
    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_legacy_ext').answer()"), 42);
}

TEST(SinglePhaseExtension, RaisesImportErrorInAnOwngilContext) {
#ifndef PYCTX_TEST_EXT_DIR
    GTEST_SKIP() << "test extension module not built";
#endif
    SKIP_WITHOUT_OWNGIL();
    Context owngil;
    ASSERT_TRUE(IsOk(create_context(owngil, PYCTX_MODE_OWNGIL)));
    Outcome r = eval(owngil.get(), "__import__('pyctx_legacy_ext').answer()");
    ASSERT_TRUE(RaisesPython(r.error.get(), "ImportError"));
    EXPECT_NE(std::string(pyctx_error_message(r.error.get())).find("pyctx_legacy_ext"),
              std::string::npos)
        << r.describe();
    // The failed import leaves the context working.
    EXPECT_EQ(eval_int(owngil.get(), "6 * 7"), 42);
    // And the module is still fine on the main interpreter.
    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_legacy_ext').answer()"), 42);
}
