// Borrowed buffers (pyctx.h "Borrowed buffers"): host memory lent to Python as a
// memoryview without a copy, its finalizer in every ending of a request and
// never while a view exists; library-allocated buffers; Python results
// returned as views pinned until the host releases them, and a context's
// close waiting for them; clear errors for bad tags and layouts. The numpy
// cases run where the embedded Python has numpy (Debian's python3-numpy for
// /usr/bin/python3.11) and say so when it has not.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/gate.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

namespace {

// A view left in the main interpreter when the tests end: pyctx_shutdown()
// must end its loan. Registered before the runtime, so that its TearDown runs
// after the runtime's (gtest tears environments down in reverse order).
// A second one is leaked on purpose (an extra reference Python never drops):
// finalization never frees it, and shutdown ends its loan all the same.
Finalized g_left_at_shutdown, g_leaked_at_shutdown;
std::vector<uint8_t> g_left_memory(64, 1), g_leaked_memory(64, 1);
class LeftAtShutdown : public ::testing::Environment {
public:
    void TearDown() override {
        if (armed) EXPECT_EQ(g_left_at_shutdown.calls.load(), 1) << "finalizer after shutdown";
        if (leaked_armed)
            EXPECT_EQ(g_leaked_at_shutdown.calls.load(), 1) << "leaked view after shutdown";
    }
    bool armed = false, leaked_armed = false;
};
auto *const g_left_env =
    static_cast<LeftAtShutdown *>(::testing::AddGlobalTestEnvironment(new LeftAtShutdown));

}  // namespace

static auto *const g_runtime = install_runtime();

namespace {

Buffer lend(void *data, size_t len, bool writable, Finalized *fin) {
    pyctx_buffer_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_buffer_lend(data, len, writable ? 1 : 0, fin ? Finalized::fn : nullptr,
                                       fin, &raw)));
    return Buffer(raw);
}

// {name: tag(index)}: eval locals naming an attached buffer.
Cbor buffer_locals(const char *name = "b", uint64_t index = 0) {
    CborBuilder c;
    c.map(1).put(name).tag(PYCTX_CBOR_TAG_BUFFER).put(index);
    return c.take();
}

// An eval request with `buffers` attached (index 0, 1, ...) and locals
// `locals` (default: b = buffer 0).
Request eval_request(pyctx_context_t *ctx, const std::string &expr,
                     std::initializer_list<pyctx_buffer_t *> buffers = {},
                     const Cbor &locals = buffer_locals()) {
    Request r = new_request(ctx);
    EXPECT_TRUE(IsOk(pyctx_request_set_eval(r.get(), expr.c_str())));
    uint32_t want = 0;
    for (pyctx_buffer_t *b : buffers) {
        uint32_t index = 99;
        EXPECT_TRUE(IsOk(pyctx_request_attach_buffer(r.get(), b, &index)));
        EXPECT_EQ(index, want++);
    }
    if (buffers.size()) EXPECT_TRUE(IsOk(pyctx_request_set_kwargs(r.get(), locals.data(), locals.size())));
    return r;
}

// Submits, waits, and returns the error (NULL on success; the request owns it).
const pyctx_error_t *run(pyctx_request_t *r) {
    EXPECT_TRUE(IsOk(pyctx_request_submit(r)));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r, PYCTX_NO_TIMEOUT)));
    return pyctx_request_error(r);
}

std::string value_diag(pyctx_request_t *r) {
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(r, &len);
    if (const pyctx_error_t *e = pyctx_request_error(r)) return describe(e);
    return diag(v, len);
}

// The result of an eval over `buffers` in diagnostic notation (or the error).
std::string eval_over(pyctx_context_t *ctx, const std::string &expr,
                      std::initializer_list<pyctx_buffer_t *> buffers,
                      const Cbor &locals = buffer_locals()) {
    Request r = eval_request(ctx, expr, buffers, locals);
    run(r.get());
    return value_diag(r.get());
}

pyctx_buffer_stats_t buffer_stats(pyctx_context_t *ctx) {
    pyctx_buffer_stats_t s{};
    EXPECT_TRUE(IsOk(pyctx_context_buffer_stats(ctx, &s, sizeof s)));
    return s;
}

// Defines `name(b)` in the context's default namespace: it tells the gate
// it started, then spins until an interrupt ends it, holding the view.
void define_spinner(pyctx_context_t *ctx, const Gate &gate) {
    std::string code = "def spin(b):\n    " + gate.py_signal_started() +
                       "\n    while True:\n        pass\n";
    ASSERT_TRUE(exec(ctx, code.c_str()).ok());
}

Request spin_request(pyctx_context_t *ctx, pyctx_buffer_t *b) {
    Request r = new_request(ctx);
    EXPECT_TRUE(IsOk(pyctx_request_set_call(r.get(), "__main__", "spin")));
    EXPECT_TRUE(IsOk(pyctx_request_attach_buffer(r.get(), b, nullptr)));
    CborBuilder c;
    c.array(1).tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    Cbor args = c.take();
    EXPECT_TRUE(IsOk(pyctx_request_set_args(r.get(), args.data(), args.size())));
    return r;
}

using BufferTest = ContextTest;
PYCTX_INSTANTIATE_FOR_BOTH_MODES(BufferTest);

// ---- host -> Python -------------------------------------------------------

TEST_P(BufferTest, PythonSeesAMemoryviewOfTheHostsBytes) {
    std::vector<uint8_t> data(1000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
    int64_t host_sum = std::accumulate(data.begin(), data.end(), int64_t{0});
    Buffer b = lend(data.data(), data.size(), false, nullptr);
    EXPECT_EQ(eval_over(ctx(), "[type(b).__name__, type(b.obj).__name__, len(b), b.readonly, "
                               "b.format, b.itemsize, b[0], b[999], sum(b), len(bytes(b))]",
                        {b.get()}),
              "[\"memoryview\", \"LentBuffer\", 1000, true, \"B\", 1, 0, " +
                  std::to_string(static_cast<uint8_t>(999 * 7)) + ", " + std::to_string(host_sum) +
                  ", 1000]");
}

TEST_P(BufferTest, HashlibReadsTheLentMemory) {
    char abc[] = {'a', 'b', 'c'};
    Buffer b = lend(abc, 3, false, nullptr);
    EXPECT_EQ(eval_over(ctx(), "__import__('hashlib').sha256(b).hexdigest()", {b.get()}),
              "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
}

// The host changes its memory while Python holds the view (inside a host
// function Python called): Python reads the new byte, so nothing was copied.
void poke_first_byte(void *user, pyctx_host_call_t *call) {
    static_cast<uint8_t *>(user)[0] = 99;
    const uint8_t null_cbor = 0xf6;
    pyctx_error_free(pyctx_host_call_return(call, &null_cbor, 1));
}

TEST_P(BufferTest, ReadOnlyViewSeesHostChangesNoCopy) {
    std::vector<uint8_t> data = {1, 2, 3};
    ASSERT_TRUE(IsOk(pyctx_host_register("buffers.poke", poke_first_byte, data.data(), nullptr)));
    Buffer b = lend(data.data(), data.size(), false, nullptr);
    EXPECT_EQ(eval_over(ctx(), "[b[0], __import__('pyctx').call('buffers.poke'), b[0]]", {b.get()}),
              "[1, null, 99]");
    EXPECT_TRUE(IsOk(pyctx_host_unregister("buffers.poke")));
}

TEST_P(BufferTest, WritableBufferWrittenByPythonIsSeenByTheHost) {
    std::vector<uint8_t> data(16, 0);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), true, &fin);
    EXPECT_EQ(eval_over(ctx(), "[b.readonly, b.__setitem__(slice(None), bytes(range(100, 116)))]",
                        {b.get()}),
              "[false, null]");
    for (size_t i = 0; i < data.size(); ++i) EXPECT_EQ(data[i], 100 + i) << i;
    b.reset();
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, ReadOnlyBufferRefusesWrites) {
    std::vector<uint8_t> data(4, 5);
    Buffer b = lend(data.data(), data.size(), false, nullptr);
    Request r = eval_request(ctx(), "b.__setitem__(0, 1)", {b.get()});
    EXPECT_TRUE(RaisesPython(run(r.get()), "TypeError"));
    EXPECT_EQ(eval_over(ctx(), "b.obj.__class__.__name__ and memoryview(b.obj).readonly", {b.get()}),
              "true");
    EXPECT_EQ(data[0], 5);
}

TEST_P(BufferTest, FormatAndShapeReachPython) {
    std::vector<double> m(12);
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<double>(i);
    Buffer b = lend(m.data(), m.size() * sizeof(double), false, nullptr);
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    const int64_t shape[] = {3, 4};
    ASSERT_TRUE(IsOk(pyctx_buffer_set_shape(b.get(), 2, shape, nullptr)));
    EXPECT_EQ(eval_over(ctx(), "[b.format, b.itemsize, b.ndim, list(b.shape), list(b.strides), "
                               "b.c_contiguous, int(b[2, 3]), [int(x) for x in b.tolist()[1]]]",
                        {b.get()}),
              "[\"d\", 8, 2, [3, 4], [32, 8], true, 11, [4, 5, 6, 7]]");
}

TEST_P(BufferTest, StridedLayoutReachesPython) {
    std::vector<double> m = {0, 1, 2, 3, 4, 5};
    Buffer b = lend(m.data(), m.size() * sizeof(double), false, nullptr);
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    const int64_t shape[] = {2, 2}, strides[] = {24, 8};  // the first two of each row of 3
    ASSERT_TRUE(IsOk(pyctx_buffer_set_shape(b.get(), 2, shape, strides)));
    EXPECT_EQ(eval_over(ctx(), "[b.c_contiguous, [[int(x) for x in row] for row in b.tolist()]]",
                        {b.get()}),
              "[false, [[0, 1], [3, 4]]]");
}

TEST_P(BufferTest, LibraryBufferIsAlignedZeroedAndShared) {
    pyctx_buffer_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_alloc(8 * 100, &raw)));
    Buffer b(raw);
    size_t len = 0;
    auto *p = static_cast<double *>(pyctx_buffer_data(b.get(), &len));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(len, 800u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % PYCTX_BUFFER_ALIGNMENT, 0u);
    for (size_t i = 0; i < 100; ++i) EXPECT_EQ(p[i], 0.0);
    p[1] = 2.5;
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    EXPECT_EQ(eval_over(ctx(), "[b.__setitem__(slice(None), memoryview(bytes(8 * 100)).cast('d')),"
                               " b.__setitem__(7, 3.0 * 1.5)] and None",
                        {b.get()}),
              "null");
    EXPECT_EQ(p[1], 0.0);
    EXPECT_EQ(p[7], 4.5);
    pyctx_buffer_info_t info{};
    ASSERT_TRUE(IsOk(pyctx_buffer_info(b.get(), &info, sizeof info)));
    EXPECT_EQ(info.memory, PYCTX_BUFFER_LIBRARY);
    EXPECT_EQ(info.readonly, 0);
    EXPECT_STREQ(info.format, "d");
    EXPECT_EQ(info.ndim, 1);
    EXPECT_EQ(info.shape[0], 100);
}

TEST_P(BufferTest, OneBufferNamedTwiceAndTwoBuffers) {
    std::vector<uint8_t> x = {1, 2}, y = {10, 20, 30};
    Finalized fx, fy;
    Buffer bx = lend(x.data(), x.size(), false, &fx);
    Buffer by = lend(y.data(), y.size(), false, &fy);
    CborBuilder c;
    c.map(3).put("a").tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    c.put("b").array(2).tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{1}).put(7);
    c.put("c").tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    EXPECT_EQ(eval_over(ctx(), "[sum(a), sum(b[0]), b[1], a is c, bytes(a) == bytes(c)]",
                        {bx.get(), by.get()}, c.take()),
              "[3, 60, 7, false, true]");
    EXPECT_GE(buffer_stats(ctx()).lent_total, 3u);
    bx.reset();
    by.reset();
    EXPECT_EQ(fx.calls.load(), 1);
    EXPECT_EQ(fy.calls.load(), 1);
}

// ---- the finalizer in every ending ----------------------------------------

TEST_P(BufferTest, FinalizerRunsOnceAfterANormalRequest) {
    std::vector<uint8_t> data(64, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = eval_request(ctx(), "sum(b)", {b.get()});
    b.reset();  // the request holds it now
    EXPECT_EQ(fin.calls.load(), 0);
    ASSERT_EQ(run(r.get()), nullptr);
    EXPECT_EQ(value_diag(r.get()), "64");
    EXPECT_EQ(fin.calls.load(), 1);  // the submission let go when it completed
    r.reset();
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, FinalizerRunsOnceAfterAPythonError) {
    std::vector<uint8_t> data(8, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = eval_request(ctx(), "b[0] / 0", {b.get()});
    b.reset();
    EXPECT_TRUE(RaisesPython(run(r.get()), "ZeroDivisionError"));
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, FinalizerRunsOnceWhenCancelledWhileQueued) {
    Gate gate;
    ASSERT_TRUE(gate.valid());
    ASSERT_TRUE(exec(ctx(), ("def block():\n    " + gate.py_signal_started() + "\n    " +
                             gate.py_wait_release() + "\n")
                                .c_str())
                    .ok());
    Request blocker = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_call(blocker.get(), "__main__", "block")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(blocker.get())));
    ASSERT_TRUE(gate.wait_started());

    std::vector<uint8_t> data(8, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = eval_request(ctx(), "sum(b)", {b.get()});
    b.reset();
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_cancel(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_CANCELLED);
    EXPECT_EQ(fin.calls.load(), 1);
    gate.release();
    ASSERT_TRUE(IsOk(pyctx_request_wait(blocker.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, FinalizerWaitsForARunningRequestThatIsCancelled) {
    Gate gate;
    ASSERT_TRUE(gate.valid());
    define_spinner(ctx(), gate);
    std::vector<uint8_t> data(8, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = spin_request(ctx(), b.get());
    b.reset();
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(gate.wait_started());
    EXPECT_EQ(fin.calls.load(), 0);  // Python holds the view and runs
    ASSERT_TRUE(IsOk(pyctx_request_cancel(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_CANCELLED);
    ASSERT_TRUE(fin.wait());  // once the interrupted frame let go of the view
    EXPECT_EQ(eval_int(ctx(), "1"), 1);
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, FinalizerRunsOnceWhenTheRequestTimesOut) {
    Gate gate;
    ASSERT_TRUE(gate.valid());
    define_spinner(ctx(), gate);
    std::vector<uint8_t> data(8, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = spin_request(ctx(), b.get());
    b.reset();
    ASSERT_TRUE(IsOk(pyctx_request_set_timeout(r.get(), 50)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_TIMEOUT);
    ASSERT_TRUE(fin.wait());
    EXPECT_EQ(eval_int(ctx(), "1"), 1);
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, FinalizerRunsOnceWhenTheContextClosesUnderARunningRequest) {
    Gate gate;
    ASSERT_TRUE(gate.valid());
    define_spinner(ctx(), gate);
    std::vector<uint8_t> data(8, 1), queued_data(8, 2);
    Finalized fin, queued_fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Buffer qb = lend(queued_data.data(), queued_data.size(), false, &queued_fin);
    Request r = spin_request(ctx(), b.get());
    Request queued = eval_request(ctx(), "sum(b)", {qb.get()});
    b.reset();
    qb.reset();
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(gate.wait_started());
    ASSERT_TRUE(IsOk(pyctx_request_submit(queued.get())));
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    // Completions decided by close may still be on their way to the request.
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    ASSERT_TRUE(IsOk(pyctx_request_wait(queued.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_CLOSED);
    EXPECT_EQ(pyctx_request_status(queued.get()), PYCTX_ERR_CLOSED);
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(queued_fin.calls.load(), 1);
}

TEST_P(BufferTest, AViewKeptInAGlobalKeepsTheMemoryLentUntilItDies) {
    std::vector<uint8_t> data(32, 3);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    EXPECT_EQ(eval_over(ctx(), "globals().__setitem__('kept', b[4:])", {b.get()}), "null");
    b.reset();
    // The request is done and the host let go: only Python's view is left.
    EXPECT_EQ(fin.calls.load(), 0);
    EXPECT_EQ(buffer_stats(ctx()).lent_views, 1u);
    EXPECT_EQ(eval_int(ctx(), "sum(kept)"), 28 * 3);  // still the host's memory
    EXPECT_EQ(fin.calls.load(), 0);
    ASSERT_TRUE(exec(ctx(), "del kept").ok());
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(buffer_stats(ctx()).lent_views, 0u);
}

TEST_P(BufferTest, ClosingTheContextReleasesAViewKeptInItsNamespace) {
    std::vector<uint8_t> data(32, 3);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    EXPECT_EQ(eval_over(ctx(), "globals().__setitem__('kept', b)", {b.get()}), "null");
    b.reset();
    EXPECT_EQ(fin.calls.load(), 0);
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(buffer_stats(ctx()).lent_views, 0u);
}

TEST_P(BufferTest, AttachmentsGoWithOneSubmission) {
    std::vector<uint8_t> data(4, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = eval_request(ctx(), "sum(b)", {b.get()});
    b.reset();
    ASSERT_EQ(run(r.get()), nullptr);
    EXPECT_EQ(fin.calls.load(), 1);
    // Resubmitted without attaching again: the tag names nothing now.
    EXPECT_EQ(run(r.get()) ? pyctx_error_status(pyctx_request_error(r.get())) : PYCTX_OK,
              PYCTX_ERR_DECODE);
    EXPECT_NE(std::string(pyctx_error_message(pyctx_request_error(r.get())))
                  .find("index 0 is out of range, the request has 0 attached buffers"),
              std::string::npos)
        << describe(pyctx_request_error(r.get()));
}

TEST_P(BufferTest, ARefusedSubmissionKeepsItsAttachments) {
    std::vector<uint8_t> data(4, 1);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = eval_request(ctx(), "sum(b)", {b.get()});
    b.reset();
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    EXPECT_TRUE(FailsWith(pyctx_request_submit(r.get()), PYCTX_ERR_CLOSED));
    EXPECT_EQ(fin.calls.load(), 0);  // still attached to the request object
    ASSERT_TRUE(IsOk(pyctx_request_clear_buffers(r.get())));
    EXPECT_EQ(fin.calls.load(), 1);
}

// ---- Python -> host ---------------------------------------------------------

Request view_request(pyctx_context_t *ctx, const std::string &expr,
                     std::initializer_list<pyctx_buffer_t *> buffers = {}) {
    Request r = eval_request(ctx, expr, buffers);
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_BUFFER)));
    return r;
}

Buffer take_view(pyctx_request_t *r) {
    pyctx_buffer_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_request_take_buffer(r, &raw)));
    return Buffer(raw);
}

pyctx_buffer_info_t info_of(pyctx_buffer_t *b) {
    pyctx_buffer_info_t info{};
    EXPECT_TRUE(IsOk(pyctx_buffer_info(b, &info, sizeof info)));
    return info;
}

TEST_P(BufferTest, AResultComesBackAsAPinnedView) {
    ASSERT_TRUE(exec(ctx(), "g = bytearray(b'hello')").ok());
    Request r = view_request(ctx(), "g");
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    EXPECT_EQ(pyctx_request_value(r.get(), nullptr), nullptr);  // no CBOR in this form
    Buffer v = take_view(r.get());
    pyctx_buffer_info_t info = info_of(v.get());
    EXPECT_EQ(info.memory, PYCTX_BUFFER_PYTHON);
    EXPECT_EQ(info.len, 5u);
    EXPECT_EQ(info.readonly, 0);
    EXPECT_STREQ(info.format, "B");
    EXPECT_EQ(std::string(static_cast<char *>(info.data), 5), "hello");
    EXPECT_EQ(buffer_stats(ctx()).held_views, 1u);
    static_cast<char *>(info.data)[0] = 'J';  // Python's own memory
    EXPECT_EQ(eval_text(ctx(), "g.decode()"), "Jello");
    // Pinned: resizing the bytearray is refused while the host holds it.
    EXPECT_TRUE(RaisesPython(eval(ctx(), "g.extend(b'!')").error.get(), "BufferError"));
    v.reset();
    // The release travels to the context thread before the next request.
    EXPECT_EQ(eval_text(ctx(), "g.extend(b'!') or g.decode()"), "Jello!");
    EXPECT_EQ(buffer_stats(ctx()).held_views, 0u);
}

TEST_P(BufferTest, BytesResultIsReadOnlyAndKeepsTheObjectAlive) {
    Request r = view_request(ctx(), "bytes(range(200))");
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    Buffer v = take_view(r.get());
    r.reset();
    pyctx_buffer_info_t info = info_of(v.get());
    EXPECT_EQ(info.readonly, 1);
    ASSERT_EQ(info.len, 200u);
    for (size_t i = 0; i < 200; ++i)
        ASSERT_EQ(static_cast<const uint8_t *>(info.data)[i], i) << i;
}

TEST_P(BufferTest, ALentBufferReturnedAsAViewIsTheSameMemory) {
    std::vector<uint8_t> data(64, 9);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    Request r = view_request(ctx(), "b[8:]", {b.get()});
    b.reset();
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    Buffer v = take_view(r.get());
    EXPECT_EQ(info_of(v.get()).data, data.data() + 8);
    EXPECT_EQ(info_of(v.get()).readonly, 1);
    EXPECT_EQ(fin.calls.load(), 0);  // the host's view keeps Python's view alive
    v.reset();
    EXPECT_EQ(eval_int(ctx(), "1"), 1);  // the release is processed in order
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_P(BufferTest, AViewCanBeLentToAnotherContext) {
    Context other;
    ASSERT_TRUE(IsOk(create_context(other, mode())));
    Request r = view_request(ctx(), "bytearray(range(10))");
    ASSERT_EQ(run(r.get()), nullptr);
    Buffer v = take_view(r.get());
    EXPECT_EQ(eval_over(other.get(), "[b.readonly, sum(b), b.__setitem__(0, 50), b[0]]", {v.get()}),
              "[false, 45, null, 50]");
    EXPECT_EQ(static_cast<uint8_t *>(info_of(v.get()).data)[0], 50);
}

TEST_P(BufferTest, ACoroutineResultComesBackAsAView) {
    ASSERT_TRUE(exec(ctx(), "async def mk():\n    return b'async bytes'\n").ok());
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_call(r.get(), "__main__", "mk")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_BUFFER)));
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    Buffer v = take_view(r.get());
    pyctx_buffer_info_t info = info_of(v.get());
    EXPECT_EQ(std::string(static_cast<char *>(info.data), info.len), "async bytes");
}

TEST_P(BufferTest, AResultWithoutTheBufferProtocolIsAnEncodeError) {
    Request r = view_request(ctx(), "12345");
    const pyctx_error_t *e = run(r.get());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_ENCODE);
    EXPECT_NE(std::string(pyctx_error_message(e)).find("type 'int'"), std::string::npos)
        << pyctx_error_message(e);
    pyctx_buffer_t *raw = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_request_take_buffer(r.get(), &raw), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST_P(BufferTest, ExecTakesNoBufferResultForm) {
    Request r = new_request(ctx());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), "x = 1")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_BUFFER)));
    EXPECT_TRUE(FailsWith(pyctx_request_submit(r.get()), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_request_set_result_form(r.get(), static_cast<pyctx_result_form>(3)),
                          PYCTX_ERR_INVALID_ARGUMENT));
}

TEST_P(BufferTest, CloseWaitsForHeldViewsThenReportsThem) {
    ASSERT_TRUE(exec(ctx(), "g = bytearray(b'pinned')").ok());
    Request r = view_request(ctx(), "g");
    ASSERT_EQ(run(r.get()), nullptr);
    Buffer v = take_view(r.get());
    Error e(pyctx_context_close(ctx(), 100));
    ASSERT_EQ(status_of(e.get()), PYCTX_ERR_STUCK) << describe(e.get());
    EXPECT_NE(std::string(pyctx_error_message(e.get())).find("1 buffer view(s)"), std::string::npos)
        << pyctx_error_message(e.get());
    EXPECT_EQ(pyctx_context_is_closed(ctx()), 1);
    // Still Python's memory, valid while the host holds it.
    EXPECT_EQ(std::string(static_cast<char *>(info_of(v.get()).data), 6), "pinned");
    v.reset();  // after close: fine, and the context thread can end
    EXPECT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    EXPECT_EQ(buffer_stats(ctx()).held_views, 0u);
}

// ---- bad input ----------------------------------------------------------------

TEST_P(BufferTest, ATagIndexOutOfRangeIsADecodeError) {
    std::vector<uint8_t> data(4, 1);
    Buffer b = lend(data.data(), data.size(), false, nullptr);
    Request r = eval_request(ctx(), "b", {b.get()}, buffer_locals("b", 1));
    const pyctx_error_t *e = run(r.get());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_DECODE);
    EXPECT_NE(std::string(pyctx_error_message(e))
                  .find("tag 28770 (buffer): index 1 is out of range, the request has 1 attached "
                        "buffer"),
              std::string::npos)
        << pyctx_error_message(e);
}

TEST_P(BufferTest, ATagOutsideARequestObjectOrOfTheWrongTypeIsADecodeError) {
    // The one-call functions attach nothing.
    CborBuilder c;
    c.array(1).tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    Outcome o = call(ctx(), "builtins", "len", c.take());
    EXPECT_EQ(o.status(), PYCTX_ERR_DECODE) << o.describe();
    EXPECT_NE(o.describe().find("the request has 0 attached buffers"), std::string::npos)
        << o.describe();
    CborBuilder t;
    t.map(1).put("b").tag(PYCTX_CBOR_TAG_BUFFER).put("zero");
    std::vector<uint8_t> data(4, 1);
    Buffer b = lend(data.data(), data.size(), false, nullptr);
    std::string got = eval_over(ctx(), "b", {b.get()}, t.take());
    EXPECT_NE(got.find("decode"), std::string::npos) << got;
    EXPECT_NE(got.find("tag 28770 (buffer) must enclose an unsigned"), std::string::npos) << got;
}

void answer_with_buffer_tag(void *, pyctx_host_call_t *call) {
    const uint8_t tagged[] = {0xd9, 0x70, 0x62, 0x00};  // 28770(0)
    pyctx_error_free(pyctx_host_call_return(call, tagged, sizeof tagged));
}

TEST_P(BufferTest, ATagInAHostAnswerIsRefused) {
    ASSERT_TRUE(IsOk(pyctx_host_register("buffers.tagged", answer_with_buffer_tag, nullptr, nullptr)));
    Outcome o = eval(ctx(), "__import__('pyctx').call('buffers.tagged')");
    EXPECT_FALSE(o.ok());
    EXPECT_NE(o.describe().find("may only appear in a request's arguments"), std::string::npos)
        << o.describe();
    EXPECT_TRUE(IsOk(pyctx_host_unregister("buffers.tagged")));
}

TEST(BufferLayout, BadFormatsShapesAndStridesAreRefusedClearly) {
    std::vector<uint8_t> mem(96);
    Buffer b = lend(mem.data(), mem.size(), false, nullptr);
    auto message = [](pyctx_error_t *raw) {
        Error e(raw);
        EXPECT_EQ(status_of(e.get()), PYCTX_ERR_INVALID_ARGUMENT);
        return e ? std::string(pyctx_error_message(e.get())) : std::string("<ok>");
    };
    auto has = [](const std::string &s, const char *part) {
        return s.find(part) != std::string::npos;
    };
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(b.get(), "x")), "unknown element code 'x'"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(b.get(), "dd")), "not a single element code"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(b.get(), "<P")), "'P' has no standard size"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(b.get(), "")), "no element code"));
    std::vector<uint8_t> ten(10);
    Buffer odd = lend(ten.data(), ten.size(), false, nullptr);
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(odd.get(), "d")),
                    "10 bytes are not a whole number of 'd' items of 8 bytes"));
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "<d")));
    const int64_t bad_shape[] = {3, 5};
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 2, bad_shape, nullptr)),
                    "needs 120 bytes, the buffer has 96"));
    const int64_t shape[] = {3, 4}, far[] = {40, 8}, negative[] = {32, -8};
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 2, shape, far)),
                    "reach byte 112, beyond the buffer's 96 bytes"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 2, shape, negative)),
                    "strides[1] is negative"));
    const int64_t minus[] = {-1};
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 1, minus, nullptr)), "shape[0] is negative"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 0, shape, nullptr)), "ndim must be 1..64"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 65, shape, nullptr)), "ndim must be 1..64"));
    EXPECT_TRUE(has(message(pyctx_buffer_set_shape(b.get(), 2, nullptr, nullptr)), "shape is NULL"));
    ASSERT_TRUE(IsOk(pyctx_buffer_set_shape(b.get(), 2, shape, nullptr)));
    pyctx_buffer_info_t info{};
    ASSERT_TRUE(IsOk(pyctx_buffer_info(b.get(), &info, sizeof info)));
    EXPECT_STREQ(info.format, "<d");
    EXPECT_EQ(info.itemsize, 8u);
    EXPECT_EQ(info.strides[0], 32);
    EXPECT_EQ(info.c_contiguous, 1);
    // Once attached, the layout is fixed.
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    Request r(raw);
    ASSERT_TRUE(IsOk(pyctx_request_attach_buffer(r.get(), b.get(), nullptr)));
    EXPECT_TRUE(has(message(pyctx_buffer_set_format(b.get(), "B")), "fixed once the buffer is shared"));
    // Arguments of the entry points themselves.
    pyctx_buffer_t *out = nullptr;
    EXPECT_TRUE(has(message(pyctx_buffer_lend(nullptr, 4, 0, nullptr, nullptr, &out)),
                    "data is NULL but len is not 0"));
    EXPECT_TRUE(has(message(pyctx_buffer_lend(mem.data(), 4, 2, nullptr, nullptr, &out)),
                    "writable must be 0 or 1"));
    EXPECT_TRUE(has(message(pyctx_request_attach_buffer(r.get(), nullptr, nullptr)), "buffer is NULL"));
    EXPECT_EQ(pyctx_buffer_data(nullptr, nullptr), nullptr);
    pyctx_buffer_free(nullptr);
}

// ---- worker mode: views in the main interpreter outlive the context --------

TEST(BufferWorker, AViewInAMainInterpreterModuleOutlivesTheContext) {
    Context first, second;
    ASSERT_TRUE(IsOk(create_context(first, PYCTX_MODE_WORKER)));
    ASSERT_TRUE(IsOk(create_context(second, PYCTX_MODE_WORKER)));
    std::vector<uint8_t> data(16, 2);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    EXPECT_EQ(eval_over(first.get(), "setattr(__import__('sys'), '_pyctx_kept', b)", {b.get()}),
              "null");
    b.reset();
    ASSERT_TRUE(IsOk(pyctx_context_close(first.get(), 10000)));
    EXPECT_EQ(fin.calls.load(), 0);  // the main interpreter still holds the view
    EXPECT_EQ(buffer_stats(first.get()).lent_views, 1u);  // counted on the closed handle
    EXPECT_EQ(eval_int(second.get(), "sum(__import__('sys')._pyctx_kept)"), 32);
    ASSERT_TRUE(exec(second.get(), "del __import__('sys')._pyctx_kept").ok());
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(buffer_stats(first.get()).lent_views, 0u);
}

TEST(BufferWorker, AViewLeftInTheMainInterpreterAtShutdownIsEndedByShutdown) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, PYCTX_MODE_WORKER)));
    Buffer b = lend(g_left_memory.data(), g_left_memory.size(), false, &g_left_at_shutdown);
    EXPECT_EQ(eval_over(ctx.get(), "setattr(__import__('sys'), '_pyctx_left', b)", {b.get()}),
              "null");
    b.reset();
    g_left_env->armed = true;  // checked after pyctx_shutdown (see LeftAtShutdown)
    if (eval_bool(ctx.get(), "__import__('importlib.util').util.find_spec('ctypes') is not None") ==
        true) {
        Buffer leaked = lend(g_leaked_memory.data(), g_leaked_memory.size(), false,
                             &g_leaked_at_shutdown);
        // (Py_IncRef returns void: its "result" is whatever ctypes reads.)
        EXPECT_EQ(eval_over(ctx.get(), "[__import__('ctypes').pythonapi.Py_IncRef("
                                       "__import__('ctypes').py_object(b)), None][1]",
                            {leaked.get()}),
                  "null");
        leaked.reset();
        EXPECT_EQ(g_leaked_at_shutdown.calls.load(), 0);
        g_left_env->leaked_armed = true;
    }
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 10000)));
    EXPECT_EQ(g_left_at_shutdown.calls.load(), 0);
}

TEST(BufferOwngil, EndingTheInterpreterEndsViewsKeptInItsModules) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil contexts need Python 3.12+";
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, PYCTX_MODE_OWNGIL)));
    std::vector<uint8_t> data(16, 2);
    Finalized fin;
    Buffer b = lend(data.data(), data.size(), false, &fin);
    EXPECT_EQ(eval_over(ctx.get(), "setattr(__import__('sys'), '_pyctx_kept', b)", {b.get()}),
              "null");
    b.reset();
    EXPECT_EQ(fin.calls.load(), 0);
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 10000)));
    EXPECT_EQ(fin.calls.load(), 1);  // the subinterpreter's sys went with it
}

// ---- numpy (worker contexts; where the embedded Python has numpy) ----------

class NumpyTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(IsOk(create_context(ctx_, PYCTX_MODE_WORKER)));
        auto found = eval_bool(ctx_.get(), "__import__('importlib.util').util.find_spec('numpy') is not None");
        // scripts/test.sh sets PYCTX_TEST_REQUIRE_NUMPY where numpy is installed.
        if (found != true && std::getenv("PYCTX_TEST_REQUIRE_NUMPY"))
            FAIL() << "numpy is required here (PYCTX_TEST_REQUIRE_NUMPY) but does not import in "
                   << pyctx_python_version() << ": install python3-numpy (scripts/deps.sh)";
        if (found != true)
            GTEST_SKIP() << "numpy is not installed for the embedded Python " << pyctx_python_version()
                         << " (the numpy cases run on Debian's /usr/bin/python3.11 with "
                            "python3-numpy; see scripts/test.sh)";
        ASSERT_TRUE(exec(ctx_.get(), "import numpy").ok());
    }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
};

TEST_F(NumpyTest, FrombufferSumEqualsTheHostsSum) {
    // Whole numbers: every partial sum is exact, whatever the order.
    std::vector<double> v(100000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 37) % 1000) - 300.0;
    double host_sum = std::accumulate(v.begin(), v.end(), 0.0);
    Finalized fin;
    Buffer b = lend(v.data(), v.size() * sizeof(double), false, &fin);
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    std::string got = eval_over(ctx(), "float(numpy.frombuffer(b, dtype=numpy.float64).sum())", {b.get()});
    char want[64];
    std::snprintf(want, sizeof want, "%.1f", host_sum);
    EXPECT_EQ(got, want);
    // numpy.asarray follows the format and shape, and shares the memory.
    EXPECT_EQ(eval_over(ctx(), "[str(numpy.asarray(b).dtype), numpy.asarray(b).flags.writeable, "
                               "numpy.shares_memory(numpy.asarray(b), numpy.frombuffer(b))]",
                        {b.get()}),
              "[\"float64\", false, true]");
    b.reset();
    EXPECT_EQ(fin.calls.load(), 1);
}

TEST_F(NumpyTest, AWritableBufferWrittenInPlaceByNumpy) {
    std::vector<double> v(1000, 1.5);
    Buffer b = lend(v.data(), v.size() * sizeof(double), true, nullptr);
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    const int64_t shape[] = {10, 100};
    ASSERT_TRUE(IsOk(pyctx_buffer_set_shape(b.get(), 2, shape, nullptr)));
    EXPECT_EQ(eval_over(ctx(), "numpy.multiply(numpy.asarray(b), numpy.arange(100.0), "
                               "out=numpy.asarray(b)).shape == (10, 100)",
                        {b.get()}),
              "true");
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], 1.5 * static_cast<double>(i % 100)) << i;
}

TEST_F(NumpyTest, AResultArrayReadBackMatchesElementByElement) {
    Request r = view_request(ctx(), "numpy.arange(12, dtype=numpy.float64).reshape(3, 4) * 1.5");
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    Buffer v = take_view(r.get());
    pyctx_buffer_info_t info = info_of(v.get());
    EXPECT_STREQ(info.format, "d");
    EXPECT_EQ(info.itemsize, 8u);
    ASSERT_EQ(info.ndim, 2);
    EXPECT_EQ(info.shape[0], 3);
    EXPECT_EQ(info.shape[1], 4);
    EXPECT_EQ(info.c_contiguous, 1);
    EXPECT_EQ(info.len, 96u);
    const auto *base = static_cast<const char *>(info.data);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
            double x;
            std::memcpy(&x, base + i * info.strides[0] + j * info.strides[1], sizeof x);
            EXPECT_EQ(x, 1.5 * (i * 4 + j)) << i << "," << j;
        }
}

TEST_F(NumpyTest, ANonContiguousResultComesWithItsStrides) {
    ASSERT_TRUE(exec(ctx(), "a = numpy.arange(12, dtype=numpy.int32).reshape(3, 4)").ok());
    Request r = view_request(ctx(), "a.T[::-1]");  // shape (4, 3), negative row stride
    ASSERT_EQ(run(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    Buffer v = take_view(r.get());
    pyctx_buffer_info_t info = info_of(v.get());
    ASSERT_EQ(info.ndim, 2);
    EXPECT_EQ(info.shape[0], 4);
    EXPECT_EQ(info.shape[1], 3);
    EXPECT_EQ(info.c_contiguous, 0);
    EXPECT_EQ(info.itemsize, 4u);
    const auto *base = static_cast<const char *>(info.data);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) {
            int32_t x;
            std::memcpy(&x, base + i * info.strides[0] + j * info.strides[1], sizeof x);
            EXPECT_EQ(x, j * 4 + (3 - i)) << i << "," << j;  // a[j, 3 - i]
        }
}

TEST_F(NumpyTest, AnArrayKeptPastTheRequestKeepsTheMemoryLent) {
    std::vector<double> v(64, 2.0);
    Finalized fin;
    Buffer b = lend(v.data(), v.size() * sizeof(double), false, &fin);
    EXPECT_EQ(eval_over(ctx(), "globals().__setitem__('arr', numpy.frombuffer(b)[::2])", {b.get()}),
              "null");
    b.reset();
    EXPECT_EQ(fin.calls.load(), 0);
    EXPECT_EQ(eval_int(ctx(), "int(arr.sum())"), 64);
    ASSERT_TRUE(exec(ctx(), "del arr").ok());
    EXPECT_EQ(fin.calls.load(), 1);
}

}  // namespace
