// Memory caps of owngil contexts: over the cap an allocation fails with
// MemoryError in that context only, which keeps serving; other contexts are
// unaffected; the usage in the stats tracks tracemalloc's figure for the
// same work; worker contexts refuse a cap.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>

#include "support/limits.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

namespace {

auto *const g_runtime = install_runtime();

constexpr size_t kMiB = size_t{1} << 20;

class MemoryCapTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!pyctx_owngil_supported()) GTEST_SKIP() << "memory caps need owngil (Python 3.12+)";
    }
    static pyctx_error_t *capped(Context &out, size_t limit, const char *name = "capped") {
        LimitedSpec spec;
        spec.mode = PYCTX_MODE_OWNGIL;
        spec.memory_limit = limit;
        spec.name = name;
        return create_limited_context(out, spec);
    }
};

TEST_F(MemoryCapTest, OverTheCapIsMemoryErrorAndTheContextKeepsServing) {
    Context ctx;
    ASSERT_TRUE(IsOk(capped(ctx, 64 * kMiB)));
    pyctx_context_stats_t s = stats_of(ctx.get());
    EXPECT_EQ(s.memory_limit, 64 * kMiB);
    EXPECT_GT(s.memory_used, 0u);  // the interpreter itself
    EXPECT_LT(s.memory_used, 64 * kMiB);

    EXPECT_EQ(attempt(ctx.get(), "x = bytearray(200 * 2**20)"), "MemoryError: ");
    EXPECT_EQ(attempt(ctx.get(), "x = list(range(10_000_000))"), "MemoryError: ");
    EXPECT_EQ(attempt(ctx.get(), "x = [0] * 10_000_000"), "MemoryError: ");
    // Still serving, with its memory back.
    EXPECT_EQ(eval_int(ctx.get(), "sum(range(1000))"), 499500);
    EXPECT_EQ(attempt(ctx.get(), "x = bytearray(16 * 2**20); del x"), "ok");
    s = stats_of(ctx.get());
    EXPECT_LT(s.memory_used, 32 * kMiB);
}

TEST_F(MemoryCapTest, OtherContextsAreUnaffected) {
    Context small, other;
    ASSERT_TRUE(IsOk(capped(small, 32 * kMiB)));
    LimitedSpec spec;
    spec.mode = PYCTX_MODE_OWNGIL;
    ASSERT_TRUE(IsOk(create_limited_context(other, spec)));
    Context worker;
    spec.mode = PYCTX_MODE_WORKER;
    ASSERT_TRUE(IsOk(create_limited_context(worker, spec)));

    EXPECT_EQ(attempt(small.get(), "x = bytearray(64 * 2**20)"), "MemoryError: ");
    EXPECT_EQ(attempt(other.get(), "x = bytearray(64 * 2**20); y = list(range(1_000_000))"), "ok");
    EXPECT_EQ(attempt(worker.get(), "x = bytearray(64 * 2**20); y = list(range(1_000_000))"), "ok");
    // The uncapped contexts count nothing.
    EXPECT_EQ(stats_of(other.get()).memory_used, 0u);
    EXPECT_EQ(stats_of(other.get()).memory_limit, 0u);
    EXPECT_EQ(stats_of(worker.get()).memory_used, 0u);
}

// The work measured: many small objects of several kinds, a few large ones.
constexpr const char *kWork =
    "data = [str(i) * 3 for i in range(100_000)]\n"
    "table = {i: (i, float(i)) for i in range(50_000)}\n"
    "blob = bytearray(4 * 2**20)\n";

TEST_F(MemoryCapTest, UsageTracksTracemalloc) {
    // tracemalloc's figure for the work, in a worker context of its own.
    Context worker;
    LimitedSpec spec;
    spec.mode = PYCTX_MODE_WORKER;
    ASSERT_TRUE(IsOk(create_limited_context(worker, spec)));
    ASSERT_EQ(attempt(worker.get(), "import tracemalloc"), "ok");
    ASSERT_TRUE(exec(worker.get(), "import tracemalloc\n"
                                   "def measure(code):\n"
                                   "    ns = {}\n"
                                   "    tracemalloc.start()\n"
                                   "    try:\n"
                                   "        exec(code, ns)\n"
                                   "        return tracemalloc.get_traced_memory()[0]\n"
                                   "    finally:\n"
                                   "        tracemalloc.stop()\n")
                    .ok());
    Outcome traced = call(worker.get(), "__main__", "measure", cbor_array(std::string(kWork)));
    ASSERT_TRUE(traced.ok()) << traced.describe();
    auto expected = as_int(traced.value);
    ASSERT_TRUE(expected.has_value());
    ASSERT_GT(*expected, int64_t{10} << 20);

    Context ctx;
    ASSERT_TRUE(IsOk(capped(ctx, 256 * kMiB)));
    // Compile and warm up once so the measured run allocates only its data.
    ASSERT_TRUE(exec(ctx.get(), (std::string(kWork) + "del data, table, blob\n").c_str()).ok());
    uint64_t before = stats_of(ctx.get()).memory_used;
    Outcome run = exec(ctx.get(), kWork);
    ASSERT_TRUE(run.ok()) << run.describe();
    uint64_t after = stats_of(ctx.get()).memory_used;
    double delta = static_cast<double>(after) - static_cast<double>(before);
    std::cerr << "[ figures  ] the cap counted " << delta << " bytes for the work, tracemalloc "
              << *expected << " (" << 100.0 * (delta - static_cast<double>(*expected)) /
                                          static_cast<double>(*expected)
              << "%)\n";
    EXPECT_LT(std::fabs(delta - static_cast<double>(*expected)), 0.10 * static_cast<double>(*expected))
        << "cap counted " << delta << " bytes, tracemalloc " << *expected;

    // Freeing gives it back.
    ASSERT_TRUE(exec(ctx.get(), "del data, table, blob").ok());
    double freed = static_cast<double>(after) - static_cast<double>(stats_of(ctx.get()).memory_used);
    EXPECT_LT(std::fabs(freed - delta), 0.10 * delta) << "freed " << freed << " of " << delta;
}

TEST_F(MemoryCapTest, ThreadsOfTheInterpreterCount) {
    Context ctx;
    ASSERT_TRUE(IsOk(capped(ctx, 32 * kMiB)));
    EXPECT_EQ(attempt(ctx.get(), "import threading\n"
                                 "box = []\n"
                                 "def f():\n"
                                 "    try:\n"
                                 "        box.append(bytearray(64 * 2**20))\n"
                                 "    except MemoryError:\n"
                                 "        box.append('refused')\n"
                                 "t = threading.Thread(target=f); t.start(); t.join()\n"
                                 "assert box == ['refused'], 'thread allocated past the cap'\n"),
              "ok");
}

TEST(MemoryCapOptions, WorkerContextsReportUnsupported) {
    LimitedSpec spec;
    spec.mode = PYCTX_MODE_WORKER;
    spec.memory_limit = 64 * kMiB;
    Context ctx;
    Error e(create_limited_context(ctx, spec));
    EXPECT_EQ(status_of(e.get()), PYCTX_ERR_UNSUPPORTED) << describe(e.get());
    EXPECT_NE(std::string(pyctx_error_message(e.get())).find("owngil"), std::string::npos);
}

TEST(MemoryCapOptions, TooSmallACapIsRejected) {
    ContextOptions options(pyctx_context_options_new());
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_memory_limit(options.get(), 1024),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(IsOk(pyctx_context_options_set_memory_limit(options.get(), PYCTX_MIN_MEMORY_LIMIT)));
    EXPECT_TRUE(IsOk(pyctx_context_options_set_memory_limit(options.get(), 0)));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_memory_limit(nullptr, 0),
                          PYCTX_ERR_INVALID_ARGUMENT));
}

}  // namespace
