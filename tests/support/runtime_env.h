// One Python runtime per test binary: Python can be initialized only once per
// process, so a gtest Environment owns pyctx_init / pyctx_shutdown.
//
//   static auto *const g_runtime = pyctx_test::install_runtime();
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "pyctx.h"
#include "support/handles.h"

namespace pyctx_test {

class RuntimeEnvironment : public ::testing::Environment {
public:
    using Configure = std::function<void(pyctx_runtime_options_t *)>;

    explicit RuntimeEnvironment(Configure configure = {}) : configure_(std::move(configure)) {}

    /** What TearDown expects pyctx_shutdown to report (a binary that leaves a
     *  stuck context behind expects PYCTX_ERR_STUCK). */
    void expect_shutdown_status(pyctx_status s) { expected_shutdown_ = s; }
    /** How long TearDown lets running requests finish (a binary that knows a
     *  context is stuck need not wait long for it). */
    void set_shutdown_timeout_ms(uint32_t ms) { shutdown_timeout_ms_ = ms; }

    void SetUp() override {
        RuntimeOptions options(pyctx_runtime_options_new());
        ASSERT_NE(options, nullptr);
        if (configure_) configure_(options.get());
        ASSERT_TRUE(IsOk(pyctx_init(options.get())));
        ASSERT_EQ(pyctx_runtime_state(), PYCTX_STATE_RUNNING);
    }

    void TearDown() override {
        Error e(pyctx_shutdown(shutdown_timeout_ms_));
        EXPECT_EQ(status_of(e.get()), expected_shutdown_) << describe(e.get());
        EXPECT_EQ(pyctx_runtime_state(), PYCTX_STATE_STOPPED);
    }

private:
    Configure configure_;
    pyctx_status expected_shutdown_ = PYCTX_OK;
    uint32_t shutdown_timeout_ms_ = 10000;
};

/** Registers the binary's runtime; call from a namespace-scope initializer. */
inline RuntimeEnvironment *install_runtime(RuntimeEnvironment::Configure configure = {}) {
    auto *env = new RuntimeEnvironment(std::move(configure));
    ::testing::AddGlobalTestEnvironment(env); // gtest takes ownership
    return env;
}

} // namespace pyctx_test
