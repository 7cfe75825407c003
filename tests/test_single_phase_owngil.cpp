// A single-phase-init extension (tests/ext/pyctx_legacy_ext.c) imported
// first in an owngil context: refused with a clear ImportError before its
// init function runs in that interpreter (Python 3.12 would otherwise run it
// there and refuse the module afterwards, leaving memory of the wrong
// allocator behind for the main interpreter and finalization). A worker
// context then imports and uses it, its init having run exactly once in the
// process; the runtime's shutdown (the environment's TearDown) must be clean.
//
// Its own binary: the first import of the module in the process must be the
// owngil one.
#include <gtest/gtest.h>

#include <string>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime([](pyctx_runtime_options_t *options) {
#ifdef PYCTX_TEST_EXT_DIR
    EXPECT_TRUE(IsOk(pyctx_runtime_options_add_path(options, PYCTX_TEST_EXT_DIR)));
#else
    (void)options;
#endif
});

namespace {

void expect_clear_refusal(pyctx_context_t *owngil) {
    Outcome r = eval(owngil, "__import__('pyctx_legacy_ext').answer()");
    ASSERT_TRUE(RaisesPython(r.error.get(), "ImportError")) << r.describe();
    const std::string msg = pyctx_error_message(r.error.get());
    EXPECT_NE(msg.find("'pyctx_legacy_ext'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("owngil context"), std::string::npos) << msg;
    EXPECT_NE(msg.find("worker context"), std::string::npos) << msg;
    EXPECT_NE(msg.find("process context"), std::string::npos) << msg;
    // The ImportError carries the module's name and file, as import errors do.
    ASSERT_TRUE(exec(owngil, "try:\n"
                             "    import pyctx_legacy_ext\n"
                             "except ImportError as e:\n"
                             "    refused = (e.name, str(e.path).endswith('pyctx_legacy_ext.so'))\n")
                    .ok());
    EXPECT_EQ(eval_text(owngil, "refused[0]"), "pyctx_legacy_ext");
    EXPECT_EQ(eval_bool(owngil, "refused[1]"), true);
}

}  // namespace

TEST(SinglePhaseInOwngil, RefusedBeforeItsInitRunsThenImportsInAWorker) {
#ifndef PYCTX_TEST_EXT_DIR
    GTEST_SKIP() << "test extension module not built";
#endif
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    {
        Context owngil;
        ASSERT_TRUE(IsOk(create_context(owngil, PYCTX_MODE_OWNGIL)));
        expect_clear_refusal(owngil.get());
        // The context goes on working, and a second try gives the same answer.
        EXPECT_EQ(eval_int(owngil.get(), "6 * 7"), 42);
        expect_clear_refusal(owngil.get());
    }  // closed: the owngil interpreter ends before the worker imports

    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_legacy_ext').answer()"), 42);
    // The init ran once in the process, in the main interpreter, never in
    // the owngil one.
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_legacy_ext').init_calls()"), 1);

    // Known to the process now: a new owngil context is refused the same way.
    Context again;
    ASSERT_TRUE(IsOk(create_context(again, PYCTX_MODE_OWNGIL)));
    expect_clear_refusal(again.get());
    EXPECT_EQ(eval_int(worker.get(), "__import__('pyctx_legacy_ext').init_calls()"), 1);

    // A process context imports it too: in its child's main interpreter,
    // where its init runs once more (a process of its own).
    Context process;
    ASSERT_TRUE(IsOk(create_context(process, PYCTX_MODE_PROCESS)));
    EXPECT_EQ(eval_int(process.get(), "__import__('pyctx_legacy_ext').answer()"), 42);
    EXPECT_EQ(eval_int(process.get(), "__import__('pyctx_legacy_ext').init_calls()"), 1);
}
