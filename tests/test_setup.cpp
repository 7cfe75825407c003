// Runtime-wide set-up: sys.path entries, imports, reloads and a virtualenv
// applied to running contexts before their next request and to contexts
// created later, in every mode; a failing step fails one request, not the
// context.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"
#include "support/temp_dir.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

std::string py_str(const std::string &s) { return "'" + s + "'"; }

// One context of each mode. A process context's child mirrors the host's
// set-up log: the steps logged before it started come with its
// configuration, later ones ahead of its next request.
struct EveryMode {
    Context worker, owngil, process;
    bool has_owngil = false;
    void start() {
        ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
        has_owngil = pyctx_owngil_supported() != 0;
        if (has_owngil) ASSERT_TRUE(IsOk(create_context(owngil, PYCTX_MODE_OWNGIL)));
        ASSERT_TRUE(IsOk(create_process_context(process)));
    }
    template <class F>
    void each(F f) {
        f(worker.get(), "worker");
        if (has_owngil) f(owngil.get(), "owngil");
        f(process.get(), "process");
    }
};

TEST(Setup, PathAddedAndRemovedInRunningAndNewContexts) {
    TempDir dir;
    dir.write("setup_path_mod.py", "VALUE = 41\n");
    EveryMode running;
    running.start();
    uint64_t before = pyctx_setup_generation();
    ASSERT_TRUE(IsOk(pyctx_setup_add_path(dir.path().c_str())));
    EXPECT_EQ(pyctx_setup_generation(), before + 1);
    running.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_int(c, "__import__('setup_path_mod').VALUE + 1"), 42) << mode;
        EXPECT_EQ(eval_text(c, "__import__('sys').path[0]"), dir.path()) << mode;
    });
    EveryMode later;
    later.start();
    later.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_int(c, "__import__('setup_path_mod').VALUE"), 41) << mode;
    });
    ASSERT_TRUE(IsOk(pyctx_setup_remove_path(dir.path().c_str())));
    std::string in_path = py_str(dir.path()) + " in __import__('sys').path";
    running.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_text(c, ("repr(" + in_path + ")").c_str()), "False") << mode;
    });
    EveryMode last;
    last.start();
    last.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_text(c, ("repr(" + in_path + ")").c_str()), "False") << mode;
    });
}

TEST(Setup, ImportRunsOncePerInterpreterBeforeTheNextRequest) {
    TempDir dir;
    // Counts its own executions in the shared store.
    dir.write("setup_import_mod.py",
              "import pyctx\n"
              "while True:\n"
              "    e = pyctx.store_entry('setup.imports')\n"
              "    if pyctx.store_cas('setup.imports', e[1] if e else 0, (e[0] if e else 0) + 1):\n"
              "        break\n");
    ASSERT_TRUE(IsOk(pyctx_setup_add_path(dir.path().c_str())));
    EveryMode running;
    running.start();
    ASSERT_TRUE(IsOk(pyctx_setup_import("setup_import_mod")));
    running.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_text(c, "repr('setup_import_mod' in __import__('sys').modules)"), "True")
            << mode;
    });
    Context second_worker;
    ASSERT_TRUE(IsOk(create_context(second_worker, PYCTX_MODE_WORKER)));
    EXPECT_EQ(eval_text(second_worker.get(), "repr('setup_import_mod' in __import__('sys').modules)"),
              "True");
    // Worker contexts share one interpreter: one import there; each owngil
    // context and each process context's child imports it itself (the
    // child counts in the host's store too).
    Bytes count;
    ASSERT_TRUE(IsOk(pyctx_store_get("setup.imports", count.out(), nullptr)));
    EXPECT_EQ(as_int(count), running.has_owngil ? 3 : 2);
    ASSERT_TRUE(IsOk(pyctx_setup_remove_import("setup_import_mod")));
    ASSERT_TRUE(IsOk(pyctx_setup_remove_path(dir.path().c_str())));
    // New contexts neither import it nor see the path (which is gone).
    EveryMode later;
    later.start();
    later.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_int(c, "7"), 7) << mode;
    });
    if (later.has_owngil)
        EXPECT_EQ(eval_text(later.owngil.get(),
                            "repr('setup_import_mod' in __import__('sys').modules)"),
                  "False");
    EXPECT_EQ(eval_text(later.process.get(), "repr('setup_import_mod' in __import__('sys').modules)"),
              "False");
}

TEST(Setup, ReloadPicksUpNewSource) {
    TempDir dir;
    std::string file = dir.write("setup_reload_mod.py", "VALUE = 1\n");
    ASSERT_TRUE(IsOk(pyctx_setup_add_path(dir.path().c_str())));
    EveryMode running;
    running.start();
    running.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_int(c, "__import__('setup_reload_mod').VALUE"), 1) << mode;
    });
    dir.write("setup_reload_mod.py", "VALUE = 2000  # a different size: the cached bytecode is stale\n");
    ASSERT_TRUE(IsOk(pyctx_setup_reload("setup_reload_mod")));
    running.each([&](pyctx_context_t *c, const char *mode) {
        EXPECT_EQ(eval_int(c, "__import__('setup_reload_mod').VALUE"), 2000) << mode;
    });
    ASSERT_TRUE(IsOk(pyctx_setup_remove_path(dir.path().c_str())));
}

TEST(Setup, VirtualenvIsCheckedAndActivated) {
    std::string version = pyctx_python_version();
    std::string mm = version.substr(0, version.find('.', version.find('.') + 1));
    TempDir venv;
    std::filesystem::create_directories(venv.path() + "/lib/python" + mm + "/site-packages/extra");
    std::string sp = venv.path() + "/lib/python" + mm + "/site-packages";
    std::ofstream(sp + "/venv_mod.py") << "WHERE = 'venv'\n";
    std::ofstream(sp + "/extra/venv_pth_mod.py") << "WHERE = 'pth'\n";
    std::ofstream(sp + "/extra.pth") << "extra\n";

    EXPECT_TRUE(FailsWith(pyctx_setup_activate_venv(venv.path().c_str()), PYCTX_ERR_NOT_FOUND));
    std::ofstream(venv.path() + "/pyvenv.cfg") << "home = /usr/bin\nversion = 2.7.18\n";
    Error e(pyctx_setup_activate_venv(venv.path().c_str()));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_UNSUPPORTED) << describe(e.get());
    EXPECT_NE(describe(e.get()).find("2.7.18"), std::string::npos);
    std::ofstream(venv.path() + "/pyvenv.cfg") << "home = /usr/bin\nversion = " << version << "\n";

    EveryMode running;
    running.start();
    ASSERT_TRUE(IsOk(pyctx_setup_activate_venv(venv.path().c_str())));
    EveryMode later;
    later.start();
    for (EveryMode *p : {&running, &later}) {
        p->each([&](pyctx_context_t *c, const char *mode) {
            EXPECT_EQ(eval_text(c, "__import__('venv_mod').WHERE"), "venv") << mode;
            EXPECT_EQ(eval_text(c, "__import__('venv_pth_mod').WHERE"), "pth") << mode;
            EXPECT_EQ(eval_text(c, "__import__('sys').prefix"), venv.path()) << mode;
            EXPECT_EQ(eval_text(c, "__import__('sys').path[0]"), sp) << mode;
        });
    }
    ASSERT_TRUE(IsOk(pyctx_setup_remove_path(sp.c_str())));
    ASSERT_TRUE(IsOk(pyctx_setup_remove_path((sp + "/extra").c_str())));
}

TEST(Setup, BadArguments) {
    EXPECT_TRUE(FailsWith(pyctx_setup_add_path(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_setup_import(""), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_setup_reload("\xff"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_setup_activate_venv(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST(Setup, FailingStepFailsOneRequestNotTheContext) {
    EveryMode running;
    running.start();
    ASSERT_TRUE(IsOk(pyctx_setup_import("setup_no_such_module")));
    running.each([&](pyctx_context_t *c, const char *mode) {
        Outcome o = eval(c, "1");
        EXPECT_TRUE(RaisesPython(o.error.get(), "ModuleNotFoundError")) << mode << o.describe();
        EXPECT_NE(o.describe().find("import 'setup_no_such_module'"), std::string::npos) << o.describe();
        EXPECT_EQ(eval_int(c, "2"), 2) << mode;  // the next request runs
    });
    if (pyctx_owngil_supported()) {
        Context fresh;
        ASSERT_TRUE(IsOk(create_context(fresh, PYCTX_MODE_OWNGIL)));  // created all the same
        Outcome o = eval(fresh.get(), "1");
        EXPECT_TRUE(RaisesPython(o.error.get(), "ModuleNotFoundError")) << o.describe();
        EXPECT_EQ(eval_int(fresh.get(), "3"), 3);
    }
    Context fresh_child;  // a new child gets the failing step with its configuration
    ASSERT_TRUE(IsOk(create_process_context(fresh_child)));
    Outcome failed = eval(fresh_child.get(), "1");
    EXPECT_TRUE(RaisesPython(failed.error.get(), "ModuleNotFoundError")) << failed.describe();
    EXPECT_EQ(eval_int(fresh_child.get(), "3"), 3);
    // Dropped: new contexts start clean again.
    ASSERT_TRUE(IsOk(pyctx_setup_remove_import("setup_no_such_module")));
    EveryMode clean;
    clean.start();
    clean.each([&](pyctx_context_t *c, const char *mode) { EXPECT_EQ(eval_int(c, "4"), 4) << mode; });
}

} // namespace
