// Creating contexts and running synchronous requests with little ceremony.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/handles.h"

namespace pyctx_test {

inline const char *mode_name(pyctx_mode mode) {
    return mode == PYCTX_MODE_OWNGIL ? "owngil" : mode == PYCTX_MODE_PROCESS ? "process" : "worker";
}

struct ContextSpec {
    pyctx_mode mode = PYCTX_MODE_WORKER;
    const char *name = nullptr;
    const char *preload = nullptr;
    size_t queue_capacity = 0;
};

/** Creates a context into `out`; use as ASSERT_TRUE(IsOk(create_context(...))). */
inline pyctx_error_t *create_context(Context &out, const ContextSpec &spec) {
    ContextOptions options(pyctx_context_options_new());
    if (pyctx_error_t *e = pyctx_context_options_set_mode(options.get(), spec.mode)) return e;
    if (spec.name)
        if (pyctx_error_t *e = pyctx_context_options_set_name(options.get(), spec.name)) return e;
    if (spec.preload)
        if (pyctx_error_t *e = pyctx_context_options_set_preload(options.get(), spec.preload))
            return e;
    if (spec.queue_capacity)
        if (pyctx_error_t *e =
                pyctx_context_options_set_queue_capacity(options.get(), spec.queue_capacity))
            return e;
    pyctx_context_t *raw = nullptr;
    if (pyctx_error_t *e = pyctx_context_create(options.get(), &raw)) return e;
    out.reset(raw);
    return nullptr;
}

inline pyctx_error_t *create_context(Context &out, pyctx_mode mode, const char *name = nullptr) {
    ContextSpec spec;
    spec.mode = mode;
    spec.name = name;
    return create_context(out, spec);
}

/** The outcome of one synchronous request. */
struct Outcome {
    Error error;
    Bytes value;

    bool ok() const { return !error; }
    pyctx_status status() const { return status_of(error.get()); }
    std::string describe() const {
        return error ? pyctx_test::describe(error.get()) : "ok: " + diag(value);
    }
};

inline Outcome eval(pyctx_context_t *ctx, const char *expr, pyctx_env_t *env = nullptr,
                    const Cbor &locals = {}, uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
    Outcome o;
    o.error.reset(pyctx_eval(ctx, expr, env, locals.empty() ? nullptr : locals.data(),
                             locals.size(), timeout_ms, o.value.out()));
    return o;
}

inline Outcome call(pyctx_context_t *ctx, const char *module, const char *function,
                    const Cbor &args = {}, const Cbor &kwargs = {},
                    uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
    Outcome o;
    o.error.reset(pyctx_call(ctx, module, function, args.empty() ? nullptr : args.data(),
                             args.size(), kwargs.empty() ? nullptr : kwargs.data(), kwargs.size(),
                             timeout_ms, o.value.out()));
    return o;
}

inline Outcome exec(pyctx_context_t *ctx, const char *code, pyctx_env_t *env = nullptr,
                    uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
    Outcome o;
    o.error.reset(pyctx_exec(ctx, code, env, timeout_ms));
    return o;
}

/** Evaluates an int expression; nullopt (plus a recorded failure) otherwise. */
inline std::optional<int64_t> eval_int(pyctx_context_t *ctx, const char *expr,
                                       pyctx_env_t *env = nullptr) {
    Outcome o = eval(ctx, expr, env);
    if (!o.ok()) {
        ADD_FAILURE() << "eval(" << expr << "): " << o.describe();
        return std::nullopt;
    }
    auto v = as_int(o.value);
    if (!v) ADD_FAILURE() << "eval(" << expr << ") is not an int: " << diag(o.value);
    return v;
}

inline std::optional<std::string> eval_text(pyctx_context_t *ctx, const char *expr,
                                            pyctx_env_t *env = nullptr) {
    Outcome o = eval(ctx, expr, env);
    if (!o.ok()) {
        ADD_FAILURE() << "eval(" << expr << "): " << o.describe();
        return std::nullopt;
    }
    auto v = as_text(o.value);
    if (!v) ADD_FAILURE() << "eval(" << expr << ") is not text: " << diag(o.value);
    return v;
}

inline std::optional<bool> eval_bool(pyctx_context_t *ctx, const char *expr,
                                     pyctx_env_t *env = nullptr) {
    Outcome o = eval(ctx, expr, env);
    if (!o.ok()) {
        ADD_FAILURE() << "eval(" << expr << "): " << o.describe();
        return std::nullopt;
    }
    auto v = as_bool(o.value);
    if (!v) ADD_FAILURE() << "eval(" << expr << ") is not a bool: " << diag(o.value);
    return v;
}

/** A new request object, aimed at `ctx` when given. */
inline Request new_request(pyctx_context_t *ctx = nullptr) {
    pyctx_request_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_request_new(&raw)));
    if (ctx) EXPECT_TRUE(IsOk(pyctx_request_set_context(raw, ctx)));
    return Request(raw);
}

inline pyctx_context_stats_t stats_of(const pyctx_context_t *ctx) {
    pyctx_context_stats_t s{};
    EXPECT_TRUE(IsOk(pyctx_context_stats(ctx, &s, sizeof s)));
    return s;
}

/** Parameterizes a suite over both modes; owngil cases skip where the
 *  embedded Python cannot run them. */
class ModeTest : public ::testing::TestWithParam<pyctx_mode> {
protected:
    void SetUp() override {
        if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported())
            GTEST_SKIP() << "owngil contexts need Python 3.12+";
    }
    pyctx_mode mode() const { return GetParam(); }
};

/** A ModeTest with one fresh context of the test's mode, created in SetUp. */
class ContextTest : public ModeTest {
protected:
    void SetUp() override {
        ModeTest::SetUp();
        if (IsSkipped()) return;
        ASSERT_TRUE(IsOk(create_context(ctx_, mode())));
    }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
};

inline std::string mode_param_name(const ::testing::TestParamInfo<pyctx_mode> &info) {
    return mode_name(info.param);
}

#define PYCTX_INSTANTIATE_FOR_BOTH_MODES(suite)                                            \
    INSTANTIATE_TEST_SUITE_P(Modes, suite,                                                 \
                             ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL),      \
                             ::pyctx_test::mode_param_name)

/** The same over every mode, process contexts included. */
#define PYCTX_INSTANTIATE_FOR_ALL_MODES(suite)                                             \
    INSTANTIATE_TEST_SUITE_P(Modes, suite,                                                 \
                             ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL,       \
                                               PYCTX_MODE_PROCESS),                        \
                             ::pyctx_test::mode_param_name)

} // namespace pyctx_test
