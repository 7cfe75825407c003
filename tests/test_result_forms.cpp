// Where object handles, streams and borrowed buffers meet on the request
// object: the one result-form enum and its one setter, forms combined with
// object kinds, recycled request objects forgetting attachments and forms,
// and a stream refusing a pool destination (process contexts: their handles
// and streams in test_process_objects.cpp, their buffers in
// test_process_buffers.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

static_assert(PYCTX_RESULT_VALUE == 0 && PYCTX_RESULT_OBJECT == 1 && PYCTX_RESULT_BUFFER == 2 &&
                  PYCTX_RESULT_STREAM == 3,
              "the result forms are numbered once, for every feature");

// Submits and waits; the request's error (NULL: it succeeded).
const pyctx_error_t *run(pyctx_request_t *r) {
    EXPECT_TRUE(IsOk(pyctx_request_submit(r)));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r, PYCTX_NO_TIMEOUT)));
    return pyctx_request_error(r);
}

std::string message_of(const pyctx_error_t *e) { return e ? pyctx_error_message(e) : ""; }

// Runs `r` (result form PYCTX_RESULT_BUFFER) and checks the view it returns
// holds `bytes`, in the Python object's own memory.
void expect_view(pyctx_request_t *r, const std::string &bytes) {
    ASSERT_EQ(run(r), nullptr) << message_of(pyctx_request_error(r));
    pyctx_buffer_t *view = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_take_buffer(r, &view)));
    Buffer held(view);
    pyctx_buffer_info_t info{};
    ASSERT_TRUE(IsOk(pyctx_buffer_info(view, &info, sizeof info)));
    ASSERT_EQ(info.len, bytes.size());
    EXPECT_EQ(std::memcmp(info.data, bytes.data(), bytes.size()), 0);
    EXPECT_EQ(info.memory, PYCTX_BUFFER_PYTHON);
}

// {b: tag 28770(0)}: eval locals naming attached buffer 0.
Cbor buffer_zero_locals() {
    CborBuilder c;
    c.map(1).put("b").tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    return c.take();
}

class ResultForms : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(IsOk(create_context(ctx_, PYCTX_MODE_WORKER, "forms"))); }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
};

TEST_F(ResultForms, OneSetterTakesValueObjectAndBufferAndRefusesTheRest) {
    Request r = new_request(ctx());
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_VALUE)));
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_OBJECT)));
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_BUFFER)));

    Error stream(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_STREAM));
    ASSERT_EQ(status_of(stream.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_NE(message_of(stream.get()).find("pyctx_stream_open"), std::string::npos)
        << message_of(stream.get());
    for (int bad : {4, -1, 1000}) {
        Error e(pyctx_request_set_result_form(r.get(), static_cast<pyctx_result_form>(bad)));
        ASSERT_EQ(status_of(e.get()), PYCTX_ERR_INVALID_ARGUMENT) << bad;
        EXPECT_NE(message_of(e.get()).find("unknown result form " + std::to_string(bad)),
                  std::string::npos)
            << message_of(e.get());
    }
    // The last accepted form stays: a buffer view of the result.
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "b'abc'")));
    expect_view(r.get(), "abc");
}

TEST_F(ResultForms, AMethodCallOnAHandleReturnsABufferView) {
    Request make = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(make.get(), "bytearray(b'hello')")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(make.get(), PYCTX_RESULT_OBJECT)));
    ASSERT_EQ(run(make.get()), nullptr) << message_of(pyctx_request_error(make.get()));
    pyctx_object_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_take_object(make.get(), &raw)));
    Object obj(raw);

    Request upper = new_request(nullptr);
    ASSERT_TRUE(IsOk(pyctx_request_set_method_call(upper.get(), obj.get(), "upper")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(upper.get(), PYCTX_RESULT_BUFFER)));
    expect_view(upper.get(), "HELLO");
    // Another form than the one asked for holds nothing.
    pyctx_object_t *none = nullptr;
    EXPECT_EQ(status_of(Error(pyctx_request_take_object(upper.get(), &none)).get()),
              PYCTX_ERR_INVALID_ARGUMENT);
}

TEST_F(ResultForms, ExecAndReleaseRequestsRefuseEveryFormButValue) {
    for (pyctx_result_form form : {PYCTX_RESULT_OBJECT, PYCTX_RESULT_BUFFER}) {
        Request r = new_request(ctx());
        ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "x = 1")));
        ASSERT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), form)));
        Error e(pyctx_request_submit(r.get()));
        ASSERT_EQ(status_of(e.get()), PYCTX_ERR_INVALID_ARGUMENT) << form;
        EXPECT_NE(message_of(e.get()).find("has no result"), std::string::npos)
            << message_of(e.get());
    }
}

TEST_F(ResultForms, ARecycledRequestForgetsItsAttachmentsAndForm) {
    Finalized fin;
    std::vector<uint8_t> memory(16, 7);
    pyctx_buffer_t *raw_buffer = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_lend(memory.data(), memory.size(), 0, Finalized::fn, &fin,
                                       &raw_buffer)));
    pyctx_request_t *first = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&first)));
    ASSERT_TRUE(IsOk(pyctx_request_attach_buffer(first, raw_buffer, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(first, PYCTX_RESULT_BUFFER)));
    pyctx_buffer_free(raw_buffer);
    EXPECT_EQ(fin.done.value(), 0u) << "the unsubmitted request still holds the buffer";
    pyctx_request_free(first);  // never submitted: recycled with its settings reset
    ASSERT_TRUE(fin.done.wait_for(1)) << "the recycled request kept the buffer lent";

    Request second = new_request(ctx());
    // The pool hands the same object back: this is the recycled one.
    ASSERT_EQ(second.get(), first);
    Cbor locals = buffer_zero_locals();
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(second.get(), "len(b)")));
    ASSERT_TRUE(IsOk(pyctx_request_set_kwargs(second.get(), locals.data(), locals.size())));
    const pyctx_error_t *e = run(second.get());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_DECODE);
    EXPECT_NE(message_of(e).find("the request has 0 attached buffers"), std::string::npos)
        << message_of(e);

    // And the form went back to value: an int result is CBOR, not a refusal.
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(second.get(), "6 * 7")));
    ASSERT_TRUE(IsOk(pyctx_request_set_kwargs(second.get(), nullptr, 0)));
    ASSERT_EQ(run(second.get()), nullptr) << message_of(pyctx_request_error(second.get()));
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(second.get(), &len);
    EXPECT_EQ(diag(v, len), "42");
}

TEST_F(ResultForms, AStreamIsNotOpenedOnAPool) {
    PoolOptions o(pyctx_pool_options_new());
    ASSERT_TRUE(IsOk(pyctx_pool_options_set_size(o.get(), 1)));
    pyctx_pool_t *raw_pool = nullptr;
    ASSERT_TRUE(IsOk(pyctx_pool_create(o.get(), &raw_pool)));
    Pool pool(raw_pool);
    Request r = new_request(nullptr);
    ASSERT_TRUE(IsOk(pyctx_request_set_pool(r.get(), pool.get())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "iter(range(3))")));
    pyctx_stream_t *s = nullptr;
    Error e(pyctx_stream_open(r.get(), 4, nullptr, nullptr, nullptr, nullptr, &s));
    ASSERT_EQ(status_of(e.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_NE(message_of(e.get()).find("not a pool"), std::string::npos) << message_of(e.get());
    EXPECT_EQ(s, nullptr);
    // The same request still runs through the pool.
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "1 + 1")));
    ASSERT_EQ(run(r.get()), nullptr) << message_of(pyctx_request_error(r.get()));
}

}  // namespace
