// First imports of extension modules at the same moment in many contexts.
// CPython 3.12 and 3.13 crash when subinterpreters with their own GIL create
// or execute some extension modules concurrently (gh-136421: _datetime's
// static types; on 3.12.1 also _hashlib, _decimal, _ssl, ...). pyctx
// serializes extension module creation and execution across the process, so
// every round below must succeed.
//
// Each round makes fresh owngil contexts (a first import happens once per
// interpreter) plus one worker context, holds all of them at a gate, then
// lets them import together. PYCTX_STRESS_IMPORTS=N runs N rounds.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;

// PYCTX_STRESS_ALLOCATOR=malloc runs with PYCTX_ALLOCATOR_MALLOC (see
// rss_mib below for why a long stress run wants it).
static auto *const g_runtime = install_runtime([](pyctx_runtime_options_t *options) {
    const char *a = std::getenv("PYCTX_STRESS_ALLOCATOR");
    if (a && std::string(a) == "malloc")
        pyctx_runtime_options_set_allocator(options, PYCTX_ALLOCATOR_MALLOC);
});

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kDefaultRounds = 1;  // sanitized subinterpreters are slow to create
#else
constexpr int kDefaultRounds = 4;
#endif
constexpr int kOwngilContexts = 8;

// The process's resident memory, for the stress report. With pymalloc, an
// own-GIL interpreter that ends while some of its objects are still alive
// (extension modules leave some) keeps its obmalloc arenas for good, so
// every round here adds a few MiB: a long stress run exhausts memory unless
// it uses the malloc allocator.
long rss_mib() {
    FILE *f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    std::fclose(f);
    return kib < 0 ? -1 : kib / 1024;
}

int rounds() {
    const char *env = std::getenv("PYCTX_STRESS_IMPORTS");
    if (!env || !*env) return kDefaultRounds;
    int n = std::atoi(env);
    return n > 0 ? n : kDefaultRounds;
}

// Imports every module in the list and uses each a little, so a module that
// imported "successfully" into a corrupted state is noticed too.
constexpr const char *kImportsAndUse =
    "import datetime, sqlite3, zoneinfo, hashlib, decimal, ssl\n"
    "assert datetime.date(2024, 2, 29).isoformat() == '2024-02-29'\n"
    "assert sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0] == 42\n"
    "assert zoneinfo.ZoneInfo.__name__ == 'ZoneInfo'\n"
    "assert hashlib.sha256(b'pyctx').hexdigest()[:8] == 'c1fb2d2e'\n"
    "assert str(decimal.Decimal('1.10') + decimal.Decimal('2.20')) == '3.30'\n"
    "assert ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).verify_mode == ssl.CERT_REQUIRED\n"
    "imports_done = 'ok'\n";

struct Round {
    std::vector<Context> contexts;
    std::vector<Outcome> outcomes;
};

}  // namespace

TEST(ConcurrentImports, FirstImportsOfExtensionModulesInManyContextsAtOnce) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    const int n_rounds = rounds();
    for (int round = 0; round < n_rounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        Watchdog watchdog(std::chrono::seconds(120));
        Gate gate;
        ASSERT_TRUE(gate.valid());
        Round r;
        r.contexts.resize(kOwngilContexts + 1);
        for (int i = 0; i < kOwngilContexts; ++i)
            ASSERT_TRUE(IsOk(create_context(r.contexts[i], PYCTX_MODE_OWNGIL)));
        ASSERT_TRUE(IsOk(create_context(r.contexts[kOwngilContexts], PYCTX_MODE_WORKER)));
        r.outcomes.resize(r.contexts.size());
        const std::string code = gate.py_block() + kImportsAndUse;
        std::vector<std::thread> threads;
        for (size_t i = 0; i < r.contexts.size(); ++i)
            threads.emplace_back([&, i] { r.outcomes[i] = exec(r.contexts[i].get(), code.c_str()); });
        // Every context is blocked at the gate before any of them imports.
        size_t started = 0;
        while (started < r.contexts.size() && gate.wait_started()) ++started;
        gate.open_all();
        for (auto &t : threads) t.join();
        ASSERT_EQ(started, r.contexts.size());
        for (size_t i = 0; i < r.contexts.size(); ++i) {
            EXPECT_TRUE(r.outcomes[i].ok()) << "context " << i << ": " << r.outcomes[i].describe();
            EXPECT_EQ(eval_text(r.contexts[i].get(), "imports_done"), "ok") << "context " << i;
        }
        if (HasFailure()) break;
        if (n_rounds > kDefaultRounds && (round + 1) % 25 == 0)
            std::fprintf(stderr, "stress: %d of %d rounds done, RSS %ld MiB\n", round + 1, n_rounds,
                         rss_mib());
    }
}
