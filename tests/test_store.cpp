// The shared store: host and Python see one process-wide map of CBOR values;
// versions are unique and never reused; compare-and-swap from 8 owngil
// contexts at once loses no update; bad keys and values are clear errors.
#include <gtest/gtest.h>

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

std::optional<int64_t> host_get_int(const char *key, uint64_t *version = nullptr) {
    Bytes v;
    Error e(pyctx_store_get(key, v.out(), version));
    if (e) return std::nullopt;
    return as_int(v);
}

TEST(Store, HostPutGetDeleteAndVersions) {
    Cbor one = cbor_value(1), two = cbor_value(2);
    uint64_t v1 = 0, v2 = 0, seen = 0;
    ASSERT_TRUE(IsOk(pyctx_store_put("host.k", one.data(), one.size(), &v1)));
    ASSERT_TRUE(IsOk(pyctx_store_put("host.k", two.data(), two.size(), &v2)));
    EXPECT_NE(v1, 0u);
    EXPECT_GT(v2, v1);
    EXPECT_EQ(host_get_int("host.k", &seen), 2);
    EXPECT_EQ(seen, v2);

    int deleted = -1;
    ASSERT_TRUE(IsOk(pyctx_store_delete("host.k", v1, &deleted)));  // stale version
    EXPECT_EQ(deleted, 0);
    ASSERT_TRUE(IsOk(pyctx_store_delete("host.k", v2, &deleted)));
    EXPECT_EQ(deleted, 1);
    Bytes v;
    EXPECT_TRUE(FailsWith(pyctx_store_get("host.k", v.out(), nullptr), PYCTX_ERR_NOT_FOUND));

    // Re-created: a version never seen before (no ABA).
    uint64_t v3 = 0;
    ASSERT_TRUE(IsOk(pyctx_store_put("host.k", one.data(), one.size(), &v3)));
    EXPECT_GT(v3, v2);
    ASSERT_TRUE(IsOk(pyctx_store_delete("host.k", 0, nullptr)));
}

TEST(Store, HostCompareAndSwap) {
    Cbor a = cbor_value("a"), b = cbor_value("b");
    int swapped = -1;
    uint64_t version = 0;
    ASSERT_TRUE(IsOk(pyctx_store_cas("cas.k", 0, a.data(), a.size(), &swapped, &version)));
    EXPECT_EQ(swapped, 1);
    uint64_t first = version;
    // Expecting absence again conflicts and reports the current version.
    ASSERT_TRUE(IsOk(pyctx_store_cas("cas.k", 0, b.data(), b.size(), &swapped, &version)));
    EXPECT_EQ(swapped, 0);
    EXPECT_EQ(version, first);
    ASSERT_TRUE(IsOk(pyctx_store_cas("cas.k", first, b.data(), b.size(), &swapped, &version)));
    EXPECT_EQ(swapped, 1);
    EXPECT_GT(version, first);
    Bytes v;
    ASSERT_TRUE(IsOk(pyctx_store_get("cas.k", v.out(), nullptr)));
    EXPECT_EQ(as_text(v), "b");
    ASSERT_TRUE(IsOk(pyctx_store_delete("cas.k", 0, nullptr)));
}

TEST(Store, BadInputIsAClearError) {
    Cbor one = cbor_value(1);
    const uint8_t bad[] = {0x82, 0x01};  // array of 2 with one item
    EXPECT_TRUE(FailsWith(pyctx_store_put(nullptr, one.data(), one.size(), nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_store_put("", one.data(), one.size(), nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_store_put("k\xff", one.data(), one.size(), nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_store_put("k", bad, sizeof bad, nullptr), PYCTX_ERR_DECODE));
    EXPECT_TRUE(FailsWith(pyctx_store_put("k", nullptr, 0, nullptr), PYCTX_ERR_DECODE));
    std::string long_key(5000, 'x');
    EXPECT_TRUE(FailsWith(pyctx_store_put(long_key.c_str(), one.data(), one.size(), nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_store_cas("k", 0, one.data(), one.size(), nullptr, nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_store_keys("", nullptr), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST(Store, KeysByPrefixSorted) {
    Cbor one = cbor_value(1);
    for (const char *k : {"kp.b", "kp.a", "kp.c", "other"})
        ASSERT_TRUE(IsOk(pyctx_store_put(k, one.data(), one.size(), nullptr)));
    Bytes keys;
    ASSERT_TRUE(IsOk(pyctx_store_keys("kp.", keys.out())));
    EXPECT_EQ(diag(keys), "[\"kp.a\", \"kp.b\", \"kp.c\"]");
    for (const char *k : {"kp.b", "kp.a", "kp.c", "other"})
        ASSERT_TRUE(IsOk(pyctx_store_delete(k, 0, nullptr)));
}

class StoreInContext : public ::testing::TestWithParam<pyctx_mode> {};

TEST_P(StoreInContext, PythonAndHostShareValues) {
    if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported()) GTEST_SKIP();
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, GetParam())));
    Cbor v = cbor_array(1, "two", 3.5);
    ASSERT_TRUE(IsOk(pyctx_store_put("shared.v", v.data(), v.size(), nullptr)));
    EXPECT_EQ(eval_text(ctx.get(), "repr(__import__('pyctx').store_get('shared.v'))"),
              "[1, 'two', 3.5]");
    EXPECT_EQ(eval_text(ctx.get(), "repr(__import__('pyctx').store_get('absent', 'dflt'))"),
              "'dflt'");
    ASSERT_TRUE(exec(ctx.get(),
                     "import pyctx\n"
                     "ver = pyctx.store_put('shared.py', {'a': (1, 2)})\n"
                     "entry = pyctx.store_entry('shared.py')\n"
                     "assert entry == ({'a': (1, 2)}, ver), entry\n"
                     "assert pyctx.store_cas('shared.py', ver + 1000, 0) is None\n"
                     "nv = pyctx.store_cas('shared.py', ver, 'new')\n"
                     "assert nv > ver\n"
                     "assert pyctx.store_entry('absent') is None\n"
                     "assert 'shared.py' in pyctx.store_keys('shared.')\n")
                    .ok());
    Bytes got;
    ASSERT_TRUE(IsOk(pyctx_store_get("shared.py", got.out(), nullptr)));
    EXPECT_EQ(as_text(got), "new");
    EXPECT_EQ(eval_text(ctx.get(), "repr(__import__('pyctx').store_delete('shared.py'))"), "True");
    EXPECT_EQ(eval_text(ctx.get(), "repr(__import__('pyctx').store_delete('shared.py'))"), "False");
    ASSERT_TRUE(IsOk(pyctx_store_delete("shared.v", 0, nullptr)));
}

TEST_P(StoreInContext, PythonErrorsAreClear) {
    if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported()) GTEST_SKIP();
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, GetParam())));
    Outcome o = eval(ctx.get(), "__import__('pyctx').store_put('k', object())");
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
    o = eval(ctx.get(), "__import__('pyctx').store_put(3, 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
    o = eval(ctx.get(), "__import__('pyctx').store_get('')");
    EXPECT_TRUE(RaisesPython(o.error.get(), "ValueError")) << o.describe();
    o = eval(ctx.get(), "__import__('pyctx').store_cas('k', -1, 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "ValueError")) << o.describe();
}

INSTANTIATE_TEST_SUITE_P(Modes, StoreInContext,
                         ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL),
                         [](const auto &info) { return std::string(mode_name(info.param)); });

// 8 contexts (owngil where available: truly parallel) each increment one
// counter N times with a CAS retry loop, while the host does the same; the
// total proves that no update was lost.
TEST(Store, ConcurrentCompareAndSwapLosesNoUpdate) {
    pyctx_mode mode = pyctx_owngil_supported() ? PYCTX_MODE_OWNGIL : PYCTX_MODE_WORKER;
    constexpr int kContexts = 8, kPerContext = 2000, kHost = 2000;
    Cbor zero = cbor_value(0);
    ASSERT_TRUE(IsOk(pyctx_store_put("race.counter", zero.data(), zero.size(), nullptr)));
    std::vector<Context> ctxs(kContexts);
    for (auto &c : ctxs) {
        ContextSpec spec;
        spec.mode = mode;
        spec.preload =
            "import pyctx\n"
            "def bump(n):\n"
            "    conflicts = 0\n"
            "    for _ in range(n):\n"
            "        while True:\n"
            "            value, version = pyctx.store_entry('race.counter')\n"
            "            if pyctx.store_cas('race.counter', version, value + 1) is not None:\n"
            "                break\n"
            "            conflicts += 1\n"
            "    return conflicts\n";
        ASSERT_TRUE(IsOk(create_context(c, spec)));
    }
    std::vector<std::thread> threads;
    std::vector<Outcome> outcomes(kContexts);
    for (int i = 0; i < kContexts; ++i)
        threads.emplace_back([&, i] {
            outcomes[i] = call(ctxs[i].get(), "__main__", "bump", cbor_array(kPerContext));
        });
    for (int i = 0; i < kHost; ++i) {
        for (;;) {
            Bytes cur;
            uint64_t version = 0;
            ASSERT_TRUE(IsOk(pyctx_store_get("race.counter", cur.out(), &version)));
            Cbor next = cbor_value(*as_int(cur) + 1);
            int swapped = 0;
            ASSERT_TRUE(IsOk(pyctx_store_cas("race.counter", version, next.data(), next.size(),
                                             &swapped, nullptr)));
            if (swapped) break;
        }
    }
    for (auto &t : threads) t.join();
    for (auto &o : outcomes) ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(host_get_int("race.counter"), kContexts * kPerContext + kHost);
    ASSERT_TRUE(IsOk(pyctx_store_delete("race.counter", 0, nullptr)));
}

} // namespace
