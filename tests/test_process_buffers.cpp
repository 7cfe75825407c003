// Borrowed buffers in process contexts: a library-allocated buffer lives in
// the shared arena and the child maps it (what Python writes the host sees
// at once, no copy); host memory is copied into the arena once and back
// when it was writable; the layout (format, shape, strides) arrives intact;
// a view Python keeps keeps the loan, and the finalizer runs exactly once,
// after the child let go -- also when the child is killed holding a view.
// A result in buffer form is copied once, C-contiguous, into the child's
// result arena and mapped here read-only; the mapping outlives the child,
// and blocks the host released are reused.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/counter.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

// {b: buffer 0}
Cbor buffer_locals() {
    CborBuilder c;
    c.map(1).put("b").tag(PYCTX_CBOR_TAG_BUFFER).put(uint64_t{0});
    return c.take();
}

// What a request with a buffer returned: its status (with the error's
// description) or its CBOR value.
struct Evaluated {
    pyctx_status status = PYCTX_OK;
    std::string what;
    std::vector<uint8_t> value;
    bool ok() const { return status == PYCTX_OK; }
    std::string describe() const { return ok() ? diag(value.data(), value.size()) : what; }
};

// Evaluates `expr` with buffer `b` attached as local `b`.
Evaluated eval_with(pyctx_context_t *ctx, const std::string &expr, pyctx_buffer_t *b) {
    Request r = new_request(ctx);
    Cbor locals = buffer_locals();
    EXPECT_TRUE(IsOk(pyctx_request_set_eval(r.get(), expr.c_str())));
    EXPECT_TRUE(IsOk(pyctx_request_attach_buffer(r.get(), b, nullptr)));
    EXPECT_TRUE(IsOk(pyctx_request_set_kwargs(r.get(), locals.data(), locals.size())));
    EXPECT_TRUE(IsOk(pyctx_request_submit(r.get())));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    Evaluated out;
    if (const pyctx_error_t *e = pyctx_request_error(r.get())) {
        out.status = pyctx_error_status(e);
        out.what = pyctx_test::describe(e);
        return out;
    }
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(r.get(), &len);
    out.value.assign(v, v + len);
    return out;
}

std::optional<int64_t> int_of(const Evaluated &e) { return as_int(e.value.data(), e.value.size()); }

// Evaluates `expr` with its result in buffer form; the view, or an empty
// handle after a test failure naming the error.
Buffer result_view(pyctx_context_t *ctx, const std::string &expr) {
    Request r = new_request(ctx);
    EXPECT_TRUE(IsOk(pyctx_request_set_eval(r.get(), expr.c_str())));
    EXPECT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_BUFFER)));
    EXPECT_TRUE(IsOk(pyctx_request_submit(r.get())));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    if (const pyctx_error_t *e = pyctx_request_error(r.get())) {
        ADD_FAILURE() << expr << ": " << pyctx_test::describe(e);
        return Buffer();
    }
    pyctx_buffer_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_request_take_buffer(r.get(), &raw)));
    return Buffer(raw);
}

class ProcessBuffers : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(IsOk(create_process_context(ctx_, {.name = "buffers-proc", .restart_max = 1})));
    }
    pyctx_context_t *ctx() { return ctx_.get(); }
    Context ctx_;
};

}  // namespace

TEST_F(ProcessBuffers, ALibraryBufferIsSharedWithTheChildWithoutACopy) {
    pyctx_buffer_t *raw = nullptr;
    constexpr size_t kLen = 1 << 20;
    ASSERT_TRUE(IsOk(pyctx_buffer_alloc(kLen, &raw)));
    Buffer b(raw);
    auto *p = static_cast<uint8_t *>(pyctx_buffer_data(b.get(), nullptr));
    int64_t sum = 0;
    for (size_t i = 0; i < kLen; ++i) {
        p[i] = static_cast<uint8_t>(i * 7);
        sum += p[i];
    }
    Evaluated o = eval_with(ctx(), "sum(b)", b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(int_of(o), sum);
    // Python writes while the host watches the same memory: the child's
    // pid is not the host's, so only shared memory can carry it.
    o = eval_with(ctx(), "(b.__setitem__(slice(0, 4), b'\\x01\\x02\\x03\\x04'), __import__('os').getpid())[1]",
                  b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(static_cast<uint64_t>(*int_of(o)), child_pid(ctx()));
    EXPECT_EQ(std::memcmp(p, "\x01\x02\x03\x04", 4), 0);
}

TEST_F(ProcessBuffers, HostMemoryIsCopiedOnceAndBackAndFinalizedAfterTheChildLetGo) {
    std::vector<uint8_t> memory(4096, 5);
    Finalized fin;
    pyctx_buffer_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_lend(memory.data(), memory.size(), 1, Finalized::fn, &fin, &raw)));
    Buffer b(raw);
    // Python keeps a view in a global: the loan outlives the request.
    Evaluated o = eval_with(ctx(), "(globals().__setitem__('kept', b), sum(b))[1]", b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(int_of(o), 5 * 4096);
    EXPECT_TRUE(exec(ctx(), "kept[0] = 42").ok());
    b.reset();  // the host's handle goes; the child still holds a view
    EXPECT_EQ(eval_int(ctx(), "kept[0]"), 42);
    EXPECT_EQ(fin.calls.load(), 0) << "finalized while the child holds a view";
    EXPECT_EQ(memory[0], 5) << "a copy: the host sees the writes when the child lets go";
    pyctx_buffer_stats_t s{};
    ASSERT_TRUE(IsOk(pyctx_context_buffer_stats(ctx(), &s, sizeof s)));
    EXPECT_EQ(s.lent_views, 1u);
    EXPECT_TRUE(exec(ctx(), "del kept; import gc; gc.collect()").ok());
    ASSERT_TRUE(fin.done.wait_for(1));
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(memory[0], 42) << "written back before the finalizer";
    EXPECT_EQ(memory[1], 5);
    ASSERT_TRUE(IsOk(pyctx_context_buffer_stats(ctx(), &s, sizeof s)));
    EXPECT_EQ(s.lent_views, 0u);
}

TEST_F(ProcessBuffers, FormatShapeAndStridesArriveIntact) {
    pyctx_buffer_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_alloc(6 * sizeof(double), &raw)));
    Buffer b(raw);
    auto *d = static_cast<double *>(pyctx_buffer_data(b.get(), nullptr));
    for (int i = 0; i < 6; ++i) d[i] = 0.5 * i;
    ASSERT_TRUE(IsOk(pyctx_buffer_set_format(b.get(), "d")));
    const int64_t shape[] = {2, 3};
    ASSERT_TRUE(IsOk(pyctx_buffer_set_shape(b.get(), 2, shape, nullptr)));
    Evaluated o = eval_with(ctx(), "[b.format, list(b.shape), list(b.strides), b.readonly, b.tolist()]", b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(o.describe(), "[\"d\", [2, 3], [24, 8], false, [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5]]]");
    // Read-only host memory stays read-only in the child.
    std::vector<uint8_t> ro(8, 1);
    pyctx_buffer_t *raw_ro = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_lend(ro.data(), ro.size(), 0, nullptr, nullptr, &raw_ro)));
    Buffer rob(raw_ro);
    o = eval_with(ctx(), "b.readonly", rob.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(o.describe(), "true");
}

TEST_F(ProcessBuffers, AChildKilledHoldingAViewEndsTheLoanOnce) {
    std::vector<uint8_t> memory(64, 3);
    Finalized fin;
    pyctx_buffer_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_lend(memory.data(), memory.size(), 1, Finalized::fn, &fin, &raw)));
    Buffer b(raw);
    Evaluated o = eval_with(ctx(), "(globals().__setitem__('kept', b), kept.__setitem__(1, 9), 0)[2]",
                          b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    b.reset();
    EXPECT_EQ(fin.calls.load(), 0);
    const uint64_t pid = child_pid(ctx());
    ASSERT_EQ(kill(static_cast<pid_t>(pid), SIGKILL), 0);
    ASSERT_TRUE(fin.done.wait_for(1));
    EXPECT_EQ(fin.calls.load(), 1);
    EXPECT_EQ(memory[1], 9) << "what the child wrote before it died is copied back";
    // The restarted child serves buffers as before.
    pyctx_buffer_t *again = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_alloc(16, &again)));
    Buffer b2(again);
    o = eval_with(ctx(), "len(b)", b2.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(int_of(o), 16);
}

TEST_F(ProcessBuffers, AResultViewIsACopyInSharedMemoryThatOutlivesTheChild) {
    // array('d') made in the child, read back element by element here.
    Buffer view = result_view(ctx(), "__import__('array').array('d', [i * 0.25 for i in range(1000)])");
    ASSERT_TRUE(view);
    pyctx_buffer_info_t info{};
    ASSERT_TRUE(IsOk(pyctx_buffer_info(view.get(), &info, sizeof info)));
    EXPECT_STREQ(info.format, "d");
    EXPECT_EQ(info.itemsize, 8u);
    ASSERT_EQ(info.ndim, 1);
    EXPECT_EQ(info.shape[0], 1000);
    EXPECT_EQ(info.readonly, 1) << "a copy: writes could never reach the Python object";
    size_t len = 0;
    const auto *d = static_cast<const double *>(pyctx_buffer_data(view.get(), &len));
    ASSERT_EQ(len, 8000u);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(d[i], i * 0.25) << i;
    // A strided view arrives C-contiguous.
    Buffer strided = result_view(ctx(), "memoryview(bytes(range(10)))[::3]");
    ASSERT_TRUE(strided);
    const auto *bytes = static_cast<const uint8_t *>(pyctx_buffer_data(strided.get(), &len));
    ASSERT_EQ(len, 4u);
    EXPECT_EQ(std::vector<uint8_t>(bytes, bytes + 4), (std::vector<uint8_t>{0, 3, 6, 9}));
    // The child dies; the host's view stays readable.
    const uint64_t pid = child_pid(ctx());
    ASSERT_EQ(kill(static_cast<pid_t>(pid), SIGKILL), 0);
    // The restarted child answers (once the host saw the death).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (restarts_of(ctx()) == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    EXPECT_EQ(restarts_of(ctx()), 1u);
    EXPECT_NE(child_pid(ctx()), pid);
    EXPECT_EQ(eval_int(ctx(), "1 + 1"), 2);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(d[i], i * 0.25) << i;
}

TEST_F(ProcessBuffers, ReleasedResultBlocksAreReusedInTheChild) {
    // Many results of 1 MiB, each released before the next: the child's
    // arena reuses the freed blocks instead of growing without bound.
    for (int i = 0; i < 64; ++i) {
        Buffer view = result_view(ctx(), "bytes([" + std::to_string(i) + "]) * (1 << 20)");
        ASSERT_TRUE(view);
        size_t len = 0;
        const auto *p = static_cast<const uint8_t *>(pyctx_buffer_data(view.get(), &len));
        ASSERT_EQ(len, size_t{1} << 20);
        EXPECT_EQ(p[0], i);
        EXPECT_EQ(p[len - 1], i);
    }
    // The child's result arena file: with reuse it stays at one growth step.
    const std::string fd7 = "/proc/" + std::to_string(child_pid(ctx())) + "/fd/7";
    struct stat st{};
    ASSERT_EQ(stat(fd7.c_str(), &st), 0);
    EXPECT_LE(st.st_size, 64 << 20) << "64 MiB of results one after the other fit in one step";
}

TEST_F(ProcessBuffers, NumpySumsASharedBufferAndReturnsAnArray) {
    Outcome probe = exec(ctx(), "import numpy");
    // scripts/test.sh sets PYCTX_TEST_REQUIRE_NUMPY for the suite that has
    // numpy (Debian's python3.11 with python3-numpy): there it must run.
    if (!probe.ok() && std::getenv("PYCTX_TEST_REQUIRE_NUMPY"))
        FAIL() << "numpy must import here (PYCTX_TEST_REQUIRE_NUMPY): " << probe.describe();
    if (!probe.ok())
        GTEST_SKIP() << "numpy is not installed for the Python this build embeds ("
                     << pyctx_python_version() << ")";
    constexpr size_t kN = 1 << 17;
    pyctx_buffer_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_buffer_alloc(kN * sizeof(double), &raw)));
    Buffer b(raw);
    auto *d = static_cast<double *>(pyctx_buffer_data(b.get(), nullptr));
    double host_sum = 0;
    for (size_t i = 0; i < kN; ++i) host_sum += (d[i] = static_cast<double>(i % 1000));
    // Whole numbers: the sum is exact in any order, so it converts to int.
    Evaluated o = eval_with(ctx(), "int(numpy.frombuffer(b, dtype=numpy.float64).sum())", b.get());
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(int_of(o), static_cast<int64_t>(host_sum)) << "the host's sum";
    // An array made by numpy in the child, read back here element by element.
    Buffer view = result_view(ctx(), "numpy.arange(5000, dtype=numpy.int64) * 3");
    ASSERT_TRUE(view);
    size_t len = 0;
    const auto *v = static_cast<const int64_t *>(pyctx_buffer_data(view.get(), &len));
    ASSERT_EQ(len, 5000 * sizeof(int64_t));
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(v[i], 3 * i) << i;
}
