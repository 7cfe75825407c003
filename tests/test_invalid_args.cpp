// Bad input to every entry point of pyctx.h gets a clear error, never a
// crash: NULL handles, NULL out-parameters, NULL and non-UTF-8 strings,
// malformed CBOR, out-of-range enums, missing callbacks. Out-parameters stay
// untouched on failure, and every *_free accepts NULL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

// Invalid UTF-8: a lone 0xff, an overlong '/', a UTF-16 surrogate, a
// truncated 2-byte sequence.
const std::vector<std::string> kBadUtf8 = {"\xff", "ab\xc0\xaf", "\xed\xa0\x80", "x\xc3"};

void noop_completion(void *, uint64_t, pyctx_result_t *result) { pyctx_result_free(result); }
void noop_host_fn(void *, pyctx_host_call_t *call) { pyctx_error_free(pyctx_host_call_fail(call, "unused")); }
int g_rejected_finalized = 0;
void count_finalize(void *) { ++g_rejected_finalized; }

Cbor truncated(Cbor c) {
    c.pop_back();
    return c;
}
Cbor with_trailing_byte(Cbor c) {
    c.push_back(0x01);
    return c;
}

/** Malformed argument arrays for call(): not an array, truncated, trailing. */
std::vector<std::pair<const char *, Cbor>> bad_args() {
    return {{"int instead of array", cbor_value(5)},
            {"map instead of array", cbor_map("a", 1)},
            {"truncated array", truncated(cbor_array(1, 2, 300))},
            {"array with trailing bytes", with_trailing_byte(cbor_array(1))},
            {"invalid UTF-8 text", cbor_array(std::string("\xff"))},
            {"reserved additional info", Cbor{0x81, 0x1c}}};
}

/** Malformed keyword maps / locals: not a map, non-text keys, truncated. */
std::vector<std::pair<const char *, Cbor>> bad_maps() {
    return {{"array instead of map", cbor_array(1)},
            {"int key", cbor_map(1, 2)},
            {"bytes key", Cbor{0xa1, 0x41, 'k', 0x01}},
            {"truncated map", truncated(cbor_map("key", "value"))}};
}

} // namespace

class InvalidArgs : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(IsOk(create_context(ctx_, PYCTX_MODE_WORKER))); }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
};

TEST(InvalidArgsNoRuntimeNeeded, ErrorAccessorsAcceptNull) {
    EXPECT_EQ(pyctx_error_status(nullptr), PYCTX_ERR_INVALID_ARGUMENT);
    ASSERT_NE(pyctx_error_message(nullptr), nullptr);
    ASSERT_NE(pyctx_error_python_type(nullptr), nullptr);
    ASSERT_NE(pyctx_error_traceback(nullptr), nullptr);
    EXPECT_STREQ(pyctx_error_python_type(nullptr), "");
    EXPECT_STREQ(pyctx_error_traceback(nullptr), "");
}

TEST(InvalidArgsNoRuntimeNeeded, StatusNamesAreNeverNullAndDistinct) {
    std::vector<std::string> names;
    for (int s = PYCTX_OK; s <= PYCTX_ERR_INTERNAL; ++s) {
        const char *name = pyctx_status_name(static_cast<pyctx_status>(s));
        ASSERT_NE(name, nullptr);
        EXPECT_STRNE(name, "");
        for (const std::string &other : names) EXPECT_NE(other, name);
        names.emplace_back(name);
    }
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_TIMEOUT), "timeout");
    ASSERT_NE(pyctx_status_name(static_cast<pyctx_status>(999)), nullptr);
    ASSERT_NE(pyctx_status_name(static_cast<pyctx_status>(-1)), nullptr);
}

TEST(InvalidArgsNoRuntimeNeeded, EveryFreeAcceptsNull) {
    pyctx_error_free(nullptr);
    pyctx_bytes_free(nullptr);
    pyctx_runtime_options_free(nullptr);
    pyctx_context_options_free(nullptr);
    pyctx_context_free(nullptr);
    pyctx_env_free(nullptr);
    pyctx_result_free(nullptr);
    pyctx_cbor_writer_free(nullptr);
    // A zeroed buffer is fine, and freeing zeroes the struct.
    pyctx_bytes_t empty{nullptr, 0};
    pyctx_bytes_free(&empty);
    EXPECT_EQ(empty.data, nullptr);
    pyctx_bytes_t text{nullptr, 0};
    ASSERT_TRUE(IsOk(pyctx_cbor_diagnose(cbor_value(1).data(), 1, &text)));
    ASSERT_NE(text.data, nullptr);
    pyctx_bytes_free(&text);
    EXPECT_EQ(text.data, nullptr);
    EXPECT_EQ(text.len, 0u);
}

TEST(InvalidArgsNoRuntimeNeeded, RuntimeOptions) {
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_add_path(nullptr, "/tmp"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_home(nullptr, "/tmp"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_program_name(nullptr, "p"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_allocator(nullptr, PYCTX_ALLOCATOR_MALLOC),
                          PYCTX_ERR_INVALID_ARGUMENT));
    RuntimeOptions o(pyctx_runtime_options_new());
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_add_path(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_home(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_program_name(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_runtime_options_add_path(o.get(), bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_home(o.get(), bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_program_name(o.get(), bad.c_str()),
                              PYCTX_ERR_INVALID_ARGUMENT));
    }
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_allocator(o.get(), static_cast<pyctx_allocator>(3)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_runtime_options_set_allocator(o.get(), static_cast<pyctx_allocator>(-1)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    // Valid values are accepted (non-ASCII UTF-8 included).
    EXPECT_TRUE(IsOk(pyctx_runtime_options_add_path(o.get(), "/tmp/pyctx-\xc3\xbc")));
    EXPECT_TRUE(IsOk(pyctx_runtime_options_set_allocator(o.get(), PYCTX_ALLOCATOR_PYMALLOC)));
}

TEST(InvalidArgsNoRuntimeNeeded, ContextOptions) {
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode(nullptr, PYCTX_MODE_WORKER), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(nullptr, "worker"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_name(nullptr, "n"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_preload(nullptr, "x = 1"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_queue_capacity(nullptr, 8), PYCTX_ERR_INVALID_ARGUMENT));
    ContextOptions o(pyctx_context_options_new());
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode(o.get(), static_cast<pyctx_mode>(7)), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(o.get(), "subinterpreter"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_name(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_options_set_preload(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_context_options_set_mode_name(o.get(), bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_context_options_set_name(o.get(), bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_context_options_set_preload(o.get(), bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
    }
}

TEST(InvalidArgsNoRuntimeNeeded, CborWriterAndReader) {
    EXPECT_EQ(pyctx_cbor_write_null(nullptr), -1);
    EXPECT_EQ(pyctx_cbor_write_bool(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_int(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_uint(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_float(nullptr, 1.0), -1);
    EXPECT_EQ(pyctx_cbor_write_text(nullptr, "a", 1), -1);
    EXPECT_EQ(pyctx_cbor_write_cstr(nullptr, "a"), -1);
    const uint8_t byte = 1;
    EXPECT_EQ(pyctx_cbor_write_bytes(nullptr, &byte, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_array(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_map(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_tag(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_raw(nullptr, &byte, 1), -1);
    size_t len = 99;
    EXPECT_EQ(pyctx_cbor_writer_data(nullptr, &len), nullptr);
    pyctx_cbor_writer_reset(nullptr);

    pyctx_cbor_item_t item{};
    pyctx_cbor_reader_init(nullptr, &byte, 1);
    EXPECT_EQ(pyctx_cbor_reader_at_end(nullptr), 1);
    EXPECT_TRUE(FailsWith(pyctx_cbor_read(nullptr, &item), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_cbor_skip(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    pyctx_cbor_reader_t reader;
    pyctx_cbor_reader_init(&reader, &byte, 1);
    EXPECT_TRUE(FailsWith(pyctx_cbor_read(&reader, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(reader.pos, 0u) << "a failed read does not move the reader";
    pyctx_bytes_t out{nullptr, 0};
    EXPECT_TRUE(FailsWith(pyctx_cbor_diagnose(nullptr, 3, &out), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_cbor_diagnose(&byte, 1, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    Cbor cut = truncated(cbor_array(1, 2));
    EXPECT_TRUE(FailsWith(pyctx_cbor_diagnose(cut.data(), cut.size(), &out), PYCTX_ERR_DECODE));
    EXPECT_EQ(out.data, nullptr);
}

TEST(InvalidArgsNoRuntimeNeeded, HostRegistry) {
    EXPECT_TRUE(FailsWith(pyctx_host_register(nullptr, noop_host_fn, nullptr, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_host_register("ok_name", nullptr, nullptr, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_host_register(bad.c_str(), noop_host_fn, nullptr, nullptr),
                              PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_host_unregister(bad.c_str()), PYCTX_ERR_INVALID_ARGUMENT));
    }
    // A rejected registration never calls the finalizer: the caller keeps the data.
    EXPECT_TRUE(FailsWith(pyctx_host_register("ok_name", nullptr, &g_rejected_finalized, count_finalize),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_host_register("\xff", noop_host_fn, &g_rejected_finalized, count_finalize),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(g_rejected_finalized, 0);
    EXPECT_TRUE(FailsWith(pyctx_host_unregister(nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_host_unregister("never_registered"), PYCTX_ERR_NOT_FOUND));

    size_t len = 99;
    EXPECT_EQ(pyctx_host_call_args(nullptr, &len), nullptr);
    // String accessors give "" rather than NULL (like the error accessors).
    EXPECT_STREQ(pyctx_host_call_name(nullptr), "");
    EXPECT_STREQ(pyctx_host_call_context_name(nullptr), "");
    const uint8_t one = 0x01;
    EXPECT_TRUE(FailsWith(pyctx_host_call_return(nullptr, &one, 1), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_host_call_fail(nullptr, "message"), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST(InvalidArgsNoRuntimeNeeded, ResultAccessorsAcceptNull) {
    EXPECT_EQ(pyctx_result_status(nullptr), PYCTX_ERR_INVALID_ARGUMENT);
    size_t len = 99;
    EXPECT_EQ(pyctx_result_value(nullptr, &len), nullptr);
    EXPECT_EQ(len, 0u);
    EXPECT_EQ(pyctx_result_error(nullptr), nullptr);
    pyctx_bytes_t out{nullptr, 0};
    EXPECT_TRUE(FailsWith(pyctx_result_take_value(nullptr, &out), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(out.data, nullptr);
}

TEST_F(InvalidArgs, InitTwiceAndContextCreate) {
    EXPECT_TRUE(FailsWith(pyctx_init(nullptr), PYCTX_ERR_ALREADY_INITIALIZED));
    EXPECT_TRUE(FailsWith(pyctx_context_create(nullptr, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    ContextOptions o(pyctx_context_options_new());
    EXPECT_TRUE(FailsWith(pyctx_context_create(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    // Non-ASCII but valid UTF-8 names are fine.
    ASSERT_TRUE(IsOk(pyctx_context_options_set_name(o.get(), "ctx-\xc3\xbcnic\xc3\xb6" "de")));
    pyctx_context_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_context_create(o.get(), &raw)));
    Context named(raw);
    EXPECT_STREQ(pyctx_context_name(named.get()), "ctx-\xc3\xbcnic\xc3\xb6" "de");
}

TEST_F(InvalidArgs, ContextHandleFunctions) {
    EXPECT_TRUE(FailsWith(pyctx_context_close(nullptr, 100), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(pyctx_context_is_closed(nullptr), 1);
    EXPECT_STREQ(pyctx_context_name(nullptr), "");
    pyctx_context_stats_t s{};
    EXPECT_TRUE(FailsWith(pyctx_context_stats(nullptr, &s, sizeof s), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_context_stats(ctx(), nullptr, sizeof s), PYCTX_ERR_INVALID_ARGUMENT));
    pyctx_env_t *env = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_env_create(nullptr, &env), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_env_create(ctx(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(env, nullptr);
    EXPECT_TRUE(FailsWith(pyctx_cancel(nullptr, 1), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWithAnyOf(pyctx_cancel(ctx(), 0), {PYCTX_ERR_NOT_FOUND, PYCTX_ERR_INVALID_ARGUMENT}));
}

TEST_F(InvalidArgs, CallRejectsBadHandlesNamesAndOutParameters) {
    pyctx_bytes_t out{nullptr, 0};
    Cbor args = cbor_array(4, 6);
    EXPECT_TRUE(FailsWith(pyctx_call(nullptr, "math", "gcd", args.data(), args.size(), nullptr, 0, 0, &out),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call(ctx(), nullptr, "gcd", args.data(), args.size(), nullptr, 0, 0, &out),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call(ctx(), "math", nullptr, args.data(), args.size(), nullptr, 0, 0, &out),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call(ctx(), "math", "gcd", args.data(), args.size(), nullptr, 0, 0, nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call(ctx(), "math", "gcd", nullptr, 5, nullptr, 0, 0, &out),
                          PYCTX_ERR_INVALID_ARGUMENT))
        << "NULL args with a length";
    EXPECT_TRUE(FailsWith(pyctx_call(ctx(), "math", "gcd", args.data(), args.size(), nullptr, 3, 0, &out),
                          PYCTX_ERR_INVALID_ARGUMENT))
        << "NULL kwargs with a length";
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_call(ctx(), bad.c_str(), "gcd", args.data(), args.size(), nullptr, 0, 0, &out),
                              PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_call(ctx(), "math", bad.c_str(), args.data(), args.size(), nullptr, 0, 0, &out),
                              PYCTX_ERR_INVALID_ARGUMENT));
    }
    EXPECT_EQ(out.data, nullptr) << "out_result written on failure";
    // The context is fine afterwards.
    Outcome r = call(ctx(), "math", "gcd", args);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(as_int(r.value), 2);
    // Valid non-ASCII names reach Python (and fail there, as names).
    r = call(ctx(), "m\xc3\xb6" "dule_absent", "f");
    EXPECT_TRUE(RaisesPython(r.error.get(), "ModuleNotFoundError"));
}

TEST_F(InvalidArgs, CallRejectsMalformedArgsAndKwargs) {
    for (auto &[what, bad] : bad_args()) {
        Outcome r = call(ctx(), "builtins", "max", bad);
        EXPECT_TRUE(r.status() == PYCTX_ERR_INVALID_ARGUMENT || r.status() == PYCTX_ERR_DECODE)
            << what << ": " << r.describe();
        EXPECT_TRUE(!r.error || std::string(pyctx_error_message(r.error.get())) != "") << what;
    }
    for (auto &[what, bad] : bad_maps()) {
        Outcome r = call(ctx(), "builtins", "dict", {}, bad);
        EXPECT_TRUE(r.status() == PYCTX_ERR_INVALID_ARGUMENT || r.status() == PYCTX_ERR_DECODE)
            << what << ": " << r.describe();
    }
    EXPECT_EQ(eval_int(ctx(), "1 + 1"), 2);
}

TEST_F(InvalidArgs, EvalAndExec) {
    pyctx_bytes_t out{nullptr, 0};
    EXPECT_TRUE(FailsWith(pyctx_eval(nullptr, "1", nullptr, nullptr, 0, 0, &out), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval(ctx(), nullptr, nullptr, nullptr, 0, 0, &out), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval(ctx(), "1", nullptr, nullptr, 0, 0, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval(ctx(), "1", nullptr, nullptr, 4, 0, &out), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_exec(nullptr, "x = 1", nullptr, 0), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_exec(ctx(), nullptr, nullptr, 0), PYCTX_ERR_INVALID_ARGUMENT));
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_eval(ctx(), bad.c_str(), nullptr, nullptr, 0, 0, &out), PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_exec(ctx(), bad.c_str(), nullptr, 0), PYCTX_ERR_INVALID_ARGUMENT));
    }
    for (auto &[what, bad] : bad_maps()) {
        Outcome r = eval(ctx(), "1", nullptr, bad);
        EXPECT_TRUE(r.status() == PYCTX_ERR_INVALID_ARGUMENT || r.status() == PYCTX_ERR_DECODE)
            << "locals " << what << ": " << r.describe();
    }
    EXPECT_EQ(out.data, nullptr);
}

namespace {
/** An async submission of bad input is either refused at once, or accepted
 *  and then completed with the error: both are correct. */
::testing::AssertionResult RejectedOrCompletesWithError(pyctx_error_t *raw, Collector &collector,
                                                        size_t &expected_completions) {
    Error e(raw);
    if (e) {
        pyctx_status s = pyctx_error_status(e.get());
        if (s == PYCTX_ERR_INVALID_ARGUMENT || s == PYCTX_ERR_DECODE) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "refused with " << describe(e.get());
    }
    ++expected_completions;
    if (!collector.wait_for(expected_completions)) return ::testing::AssertionFailure() << "never completed";
    Completion c = collector.all().back();
    if (c.status == PYCTX_ERR_INVALID_ARGUMENT || c.status == PYCTX_ERR_DECODE) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "completed with " << pyctx_status_name(c.status);
}
} // namespace

TEST_F(InvalidArgs, AsyncSubmissions) {
    Collector collector;
    size_t completions = 0;
    Cbor args = cbor_array(4, 6);
    uint64_t id = 777;
    // A completion callback is required.
    EXPECT_TRUE(FailsWith(pyctx_call_async(ctx(), "math", "gcd", args.data(), args.size(), nullptr, 0, 0,
                                           nullptr, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval_async(ctx(), "1", nullptr, nullptr, 0, 0, nullptr, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_exec_async(ctx(), "pass", nullptr, 0, nullptr, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    // NULL handles and strings.
    EXPECT_TRUE(FailsWith(pyctx_call_async(nullptr, "math", "gcd", nullptr, 0, nullptr, 0, 0, noop_completion,
                                           nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call_async(ctx(), nullptr, "gcd", nullptr, 0, nullptr, 0, 0, noop_completion,
                                           nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_call_async(ctx(), "math", nullptr, nullptr, 0, nullptr, 0, 0, noop_completion,
                                           nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval_async(nullptr, "1", nullptr, nullptr, 0, 0, noop_completion, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_eval_async(ctx(), nullptr, nullptr, nullptr, 0, 0, noop_completion, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_exec_async(nullptr, "pass", nullptr, 0, noop_completion, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_exec_async(ctx(), nullptr, nullptr, 0, noop_completion, nullptr, &id),
                          PYCTX_ERR_INVALID_ARGUMENT));
    for (const std::string &bad : kBadUtf8) {
        EXPECT_TRUE(FailsWith(pyctx_call_async(ctx(), bad.c_str(), "f", nullptr, 0, nullptr, 0, 0,
                                               noop_completion, nullptr, &id),
                              PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_call_async(ctx(), "math", bad.c_str(), nullptr, 0, nullptr, 0, 0,
                                               noop_completion, nullptr, &id),
                              PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_eval_async(ctx(), bad.c_str(), nullptr, nullptr, 0, 0, noop_completion,
                                               nullptr, &id),
                              PYCTX_ERR_INVALID_ARGUMENT));
        EXPECT_TRUE(FailsWith(pyctx_exec_async(ctx(), bad.c_str(), nullptr, 0, noop_completion, nullptr, &id),
                              PYCTX_ERR_INVALID_ARGUMENT));
    }
    EXPECT_EQ(id, 777u) << "out_request_id written on failure";

    // Malformed CBOR.
    for (auto &[what, bad] : bad_args()) {
        EXPECT_TRUE(RejectedOrCompletesWithError(
            pyctx_call_async(ctx(), "builtins", "max", bad.data(), bad.size(), nullptr, 0, 0, collector.fn(),
                             collector.user_data(), nullptr),
            collector, completions))
            << what;
    }
    for (auto &[what, bad] : bad_maps()) {
        EXPECT_TRUE(RejectedOrCompletesWithError(
            pyctx_call_async(ctx(), "builtins", "dict", nullptr, 0, bad.data(), bad.size(), 0, collector.fn(),
                             collector.user_data(), nullptr),
            collector, completions))
            << "kwargs " << what;
        EXPECT_TRUE(RejectedOrCompletesWithError(
            pyctx_eval_async(ctx(), "1", nullptr, bad.data(), bad.size(), 0, collector.fn(), collector.user_data(),
                             nullptr),
            collector, completions))
            << "locals " << what;
    }
    EXPECT_EQ(collector.count(), completions);
}
