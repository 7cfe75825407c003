// RAII owners for the handles of the public C API, plus gtest predicates that
// turn a returned pyctx_error_t into a readable assertion.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "pyctx.h"

namespace pyctx_test {

struct ErrorDeleter {
    void operator()(pyctx_error_t *e) const { pyctx_error_free(e); }
};
struct ContextDeleter {
    void operator()(pyctx_context_t *c) const { pyctx_context_free(c); }
};
struct EnvDeleter {
    void operator()(pyctx_env_t *e) const { pyctx_env_free(e); }
};
struct ResultDeleter {
    void operator()(pyctx_result_t *r) const { pyctx_result_free(r); }
};
struct RuntimeOptionsDeleter {
    void operator()(pyctx_runtime_options_t *o) const { pyctx_runtime_options_free(o); }
};
struct ContextOptionsDeleter {
    void operator()(pyctx_context_options_t *o) const { pyctx_context_options_free(o); }
};
struct RequestDeleter {
    void operator()(pyctx_request_t *r) const { pyctx_request_free(r); }
};

using Error = std::unique_ptr<pyctx_error_t, ErrorDeleter>;
using Context = std::unique_ptr<pyctx_context_t, ContextDeleter>;
using Env = std::unique_ptr<pyctx_env_t, EnvDeleter>;
using Result = std::unique_ptr<pyctx_result_t, ResultDeleter>;
using RuntimeOptions = std::unique_ptr<pyctx_runtime_options_t, RuntimeOptionsDeleter>;
using ContextOptions = std::unique_ptr<pyctx_context_options_t, ContextOptionsDeleter>;
using Request = std::unique_ptr<pyctx_request_t, RequestDeleter>;

/** An owned pyctx_bytes_t that frees itself. */
class Bytes {
public:
    Bytes() = default;
    Bytes(const Bytes &) = delete;
    Bytes &operator=(const Bytes &) = delete;
    Bytes(Bytes &&other) noexcept : b_(other.b_) { other.b_ = {nullptr, 0}; }
    Bytes &operator=(Bytes &&other) noexcept {
        if (this != &other) {
            pyctx_bytes_free(&b_);
            b_ = other.b_;
            other.b_ = {nullptr, 0};
        }
        return *this;
    }
    ~Bytes() { pyctx_bytes_free(&b_); }

    /** For an out-parameter: releases what is held and hands out the slot. */
    pyctx_bytes_t *out() {
        pyctx_bytes_free(&b_);
        return &b_;
    }
    const uint8_t *data() const { return b_.data; }
    size_t size() const { return b_.len; }
    std::vector<uint8_t> vec() const {
        return b_.data ? std::vector<uint8_t>(b_.data, b_.data + b_.len) : std::vector<uint8_t>{};
    }

private:
    pyctx_bytes_t b_{nullptr, 0};
};

inline pyctx_status status_of(const pyctx_error_t *e) {
    return e ? pyctx_error_status(e) : PYCTX_OK;
}

/** "python: ValueError: bad value 3" plus the traceback, for failure output. */
inline std::string describe(const pyctx_error_t *e) {
    if (!e) return "ok";
    std::string s = pyctx_status_name(pyctx_error_status(e));
    std::string type = pyctx_error_python_type(e);
    if (!type.empty()) s += ": " + type;
    s += ": ";
    s += pyctx_error_message(e);
    std::string tb = pyctx_error_traceback(e);
    if (!tb.empty()) s += "\n" + tb;
    return s;
}

/** EXPECT_TRUE(IsOk(pyctx_xxx(...))): succeeds when the call returned NULL.
 *  Takes ownership of the error. */
inline ::testing::AssertionResult IsOk(pyctx_error_t *raw) {
    Error e(raw);
    if (!e) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected success, got " << describe(e.get());
}

/** Succeeds when the call failed with one of `expected` and a non-empty
 *  message (every error must say what went wrong). Takes ownership. */
inline ::testing::AssertionResult FailsWithAnyOf(pyctx_error_t *raw,
                                                 std::initializer_list<pyctx_status> expected) {
    Error e(raw);
    std::string want;
    for (pyctx_status s : expected) {
        if (!want.empty()) want += " or ";
        want += pyctx_status_name(s);
    }
    if (!e) return ::testing::AssertionFailure() << "succeeded, expected " << want;
    pyctx_status got = pyctx_error_status(e.get());
    bool match = false;
    for (pyctx_status s : expected) match = match || s == got;
    if (!match)
        return ::testing::AssertionFailure() << "got " << describe(e.get()) << ", expected " << want;
    if (std::string(pyctx_error_message(e.get())).empty())
        return ::testing::AssertionFailure() << pyctx_status_name(got) << " without a message";
    return ::testing::AssertionSuccess() << describe(e.get());
}

inline ::testing::AssertionResult FailsWith(pyctx_error_t *raw, pyctx_status expected) {
    return FailsWithAnyOf(raw, {expected});
}

/** Succeeds for PYCTX_ERR_PYTHON with the given exception type. */
inline ::testing::AssertionResult RaisesPython(const pyctx_error_t *e, const std::string &type) {
    if (!e) return ::testing::AssertionFailure() << "succeeded, expected Python " << type;
    if (pyctx_error_status(e) != PYCTX_ERR_PYTHON || type != pyctx_error_python_type(e))
        return ::testing::AssertionFailure() << "got " << describe(e) << ", expected Python " << type;
    return ::testing::AssertionSuccess();
}

// Buffers, object handles, streams, pools.
struct BufferDeleter {
    void operator()(pyctx_buffer_t *b) const { pyctx_buffer_free(b); }
};
struct ObjectDeleter {
    void operator()(pyctx_object_t *o) const { pyctx_object_free(o); }
};
struct StreamDeleter {
    void operator()(pyctx_stream_t *s) const { pyctx_stream_free(s); }
};
struct PoolDeleter {
    void operator()(pyctx_pool_t *p) const { pyctx_pool_free(p); }
};
struct PoolOptionsDeleter {
    void operator()(pyctx_pool_options_t *o) const { pyctx_pool_options_free(o); }
};

using Buffer = std::unique_ptr<pyctx_buffer_t, BufferDeleter>;
using Object = std::unique_ptr<pyctx_object_t, ObjectDeleter>;
using Stream = std::unique_ptr<pyctx_stream_t, StreamDeleter>;
using Pool = std::unique_ptr<pyctx_pool_t, PoolDeleter>;
using PoolOptions = std::unique_ptr<pyctx_pool_options_t, PoolOptionsDeleter>;

} // namespace pyctx_test
