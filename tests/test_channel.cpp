// Channels: values both ways in order, backpressure in both directions
// proven by the counters and the queue bound, the end seen by both sides,
// `await ch.recv()` on the context's loop and on a user's own loop, byte
// channels, and a blocked receive that is cancelled -- in every mode.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
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

struct ChannelDeleter {
    void operator()(pyctx_channel_t *c) const { pyctx_channel_free(c); }
};
using Channel = std::unique_ptr<pyctx_channel_t, ChannelDeleter>;

Channel make_channel(size_t capacity, int bytes = 0) {
    pyctx_channel_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_channel_new(capacity, bytes, &raw)));
    return Channel(raw);
}

pyctx_channel_stats_t stats(pyctx_channel_t *c) {
    pyctx_channel_stats_t s{};
    pyctx_channel_stats(c, &s);
    return s;
}

pyctx_status send_int(pyctx_channel_t *c, int64_t v, uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
    Cbor b = cbor_value(v);
    Error e(pyctx_channel_send(c, b.data(), b.size(), timeout_ms));
    return status_of(e.get());
}

std::optional<int64_t> recv_int(pyctx_channel_t *c, uint32_t timeout_ms = PYCTX_NO_TIMEOUT) {
    Bytes out;
    Error e(pyctx_channel_recv(c, timeout_ms, out.out()));
    if (e) return std::nullopt;
    return as_int(out);
}

constexpr const char *kPreload =
    "import asyncio, pyctx\n"
    "def pump(cid, n):\n"
    "    ch = pyctx.Channel(cid)\n"
    "    for _ in range(n):\n"
    "        ch.send(ch.recv() * 2)\n"
    "    return n\n"
    "def recv_until_closed(cid):\n"
    "    ch = pyctx.Channel(cid)\n"
    "    got = []\n"
    "    try:\n"
    "        while True:\n"
    "            got.append(ch.recv())\n"
    "    except pyctx.ChannelClosed:\n"
    "        return got\n"
    "def send_all(cid, n):\n"
    "    ch = pyctx.Channel(cid)\n"
    "    for i in range(n):\n"
    "        ch.send(i)\n"
    "    return n\n"
    "async def arecv_n(cid, n):\n"
    "    ch = pyctx.Channel(cid)\n"
    "    return [await ch.recv() for _ in range(n)]\n"
    "def own_loop_recv(cid, n):\n"
    "    return asyncio.run(arecv_n(cid, n))\n";

class Channels : public ::testing::TestWithParam<pyctx_mode> {
protected:
    void SetUp() override {
        if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported()) GTEST_SKIP();
        ContextSpec spec;
        spec.mode = GetParam();
        spec.preload = kPreload;
        ASSERT_TRUE(IsOk(create_context(ctx, spec)));
    }
    uint64_t submit(const char *fn, const Cbor &args) {
        uint64_t id = 0;
        EXPECT_TRUE(IsOk(pyctx_call_async(ctx.get(), "__main__", fn, args.data(), args.size(),
                                          nullptr, 0, PYCTX_NO_TIMEOUT, done.fn(),
                                          done.user_data(), &id)));
        return id;
    }
    Context ctx;
    Collector done;
};

TEST_P(Channels, RoundTripsInOrderThroughASmallWindow) {
    Channel ch = make_channel(2);
    constexpr int kN = 200;
    uint64_t id = submit("pump", cbor_array(pyctx_channel_id(ch.get()), kN));
    // The host keeps at most 2 values in flight: send two, then alternate.
    int sent = 0;
    for (; sent < 2; ++sent) ASSERT_EQ(send_int(ch.get(), sent), PYCTX_OK);
    for (int i = 0; i < kN; ++i) {
        ASSERT_EQ(recv_int(ch.get()), 2 * i) << i;
        pyctx_channel_stats_t s = stats(ch.get());
        EXPECT_LE(s.queued_to_python, 2u);
        EXPECT_LE(s.queued_to_host, 2u);
        if (sent < kN) ASSERT_EQ(send_int(ch.get(), sent++), PYCTX_OK);
    }
    ASSERT_TRUE(done.wait_for(1));
    auto c = done.find(id);
    ASSERT_TRUE(c && c->status == PYCTX_OK) << (c ? c->message : "none");
    pyctx_channel_stats_t s = stats(ch.get());
    EXPECT_EQ(s.to_python, uint64_t(kN));
    EXPECT_EQ(s.from_python, uint64_t(kN));
}

TEST_P(Channels, BackpressureBothWays) {
    Channel ch = make_channel(3);
    // Host -> Python: three fit, the fourth does not.
    for (int i = 0; i < 3; ++i) ASSERT_EQ(send_int(ch.get(), i), PYCTX_OK);
    Cbor four = cbor_value(4);
    EXPECT_TRUE(FailsWith(pyctx_channel_try_send(ch.get(), four.data(), four.size()),
                          PYCTX_ERR_QUEUE_FULL));
    EXPECT_EQ(send_int(ch.get(), 4, 20), PYCTX_ERR_TIMEOUT);
    EXPECT_EQ(stats(ch.get()).queued_to_python, 3u);
    // Python -> host: try_send stops at the bound.
    std::string cid = std::to_string(pyctx_channel_id(ch.get()));
    EXPECT_EQ(eval_text(ctx.get(), ("repr([pyctx.Channel(" + cid + ").try_send(i) for i in range(5)])").c_str()),
              "[True, True, True, False, False]");
    EXPECT_EQ(stats(ch.get()).queued_to_host, 3u);
    // A blocking sender of 10 values never has more than 3 queued: each
    // send waits for the host to take one (credit).
    for (int i = 0; i < 3; ++i) ASSERT_EQ(recv_int(ch.get()), i);
    uint64_t id = submit("send_all", cbor_array(pyctx_channel_id(ch.get()), 10));
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(recv_int(ch.get()), i);
        EXPECT_LE(stats(ch.get()).queued_to_host, 3u);
    }
    ASSERT_TRUE(done.wait_for(1));
    EXPECT_EQ(done.find(id)->status, PYCTX_OK);
    EXPECT_EQ(stats(ch.get()).from_python, 13u);
}

TEST_P(Channels, CloseWakesTheOtherEnd) {
    Channel ch = make_channel(8);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(send_int(ch.get(), i), PYCTX_OK);
    uint64_t id = submit("recv_until_closed", cbor_array(pyctx_channel_id(ch.get())));
    // Python drains the three, then waits; closing ends its loop.
    while (stats(ch.get()).to_python < 3) std::this_thread::yield();
    pyctx_channel_close(ch.get());
    ASSERT_TRUE(done.wait_for(1));
    auto c = done.find(id);
    ASSERT_TRUE(c && c->status == PYCTX_OK) << (c ? c->message : "none");
    EXPECT_EQ(diag(c->value), "[0, 1, 2]");
    EXPECT_EQ(send_int(ch.get(), 9), PYCTX_ERR_CLOSED);

    // Python closes: the host drains what was sent, then sees the end.
    Channel ch2 = make_channel(8);
    std::string cid = std::to_string(pyctx_channel_id(ch2.get()));
    ASSERT_TRUE(exec(ctx.get(), ("c = pyctx.Channel(" + cid + ")\nc.send(5)\nc.close()\n").c_str()).ok());
    EXPECT_EQ(recv_int(ch2.get()), 5);
    Bytes out;
    EXPECT_TRUE(FailsWith(pyctx_channel_recv(ch2.get(), PYCTX_NO_TIMEOUT, out.out()), PYCTX_ERR_CLOSED));
    Outcome o = eval(ctx.get(), ("pyctx.Channel(" + cid + ").send(1)").c_str());
    EXPECT_TRUE(RaisesPython(o.error.get(), "pyctx.ChannelClosed")) << o.describe();
}

TEST_P(Channels, AwaitOnTheContextsLoopAndOnAUsersLoop) {
    Channel ch = make_channel(4);
    uint64_t id = submit("arecv_n", cbor_array(pyctx_channel_id(ch.get()), 20));
    for (int i = 0; i < 20; ++i) ASSERT_EQ(send_int(ch.get(), i), PYCTX_OK);
    ASSERT_TRUE(done.wait_for(1));
    auto c = done.find(id);
    ASSERT_TRUE(c && c->status == PYCTX_OK) << (c ? c->message : "none");
    EXPECT_EQ(as_int_list(c->value)->size(), 20u);
    EXPECT_EQ(as_int_list(c->value)->back(), 19);

    id = submit("own_loop_recv", cbor_array(pyctx_channel_id(ch.get()), 10));
    for (int i = 0; i < 10; ++i) ASSERT_EQ(send_int(ch.get(), 100 + i), PYCTX_OK);
    ASSERT_TRUE(done.wait_for(2));
    c = done.find(id);
    ASSERT_TRUE(c && c->status == PYCTX_OK) << (c ? c->message : "none");
    EXPECT_EQ(as_int_list(c->value)->front(), 100);
}

TEST_P(Channels, ByteChannelCarriesRawBytes) {
    Channel ch = make_channel(4, 1);
    const uint8_t raw[] = {0x00, 0xff, 'a', 'b'};
    ASSERT_TRUE(IsOk(pyctx_channel_send(ch.get(), raw, sizeof raw, PYCTX_NO_TIMEOUT)));
    std::string cid = std::to_string(pyctx_channel_id(ch.get()));
    EXPECT_EQ(eval_text(ctx.get(), ("repr(pyctx.Channel(" + cid + ").recv())").c_str()), "b'\\x00\\xffab'");
    ASSERT_TRUE(exec(ctx.get(), ("pyctx.Channel(" + cid + ").send(bytearray(b'xyz'))").c_str()).ok());
    Bytes out;
    ASSERT_TRUE(IsOk(pyctx_channel_recv(ch.get(), PYCTX_NO_TIMEOUT, out.out())));
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(out.data()), out.size()), "xyz");
    Outcome o = eval(ctx.get(), ("pyctx.Channel(" + cid + ").send('text')").c_str());
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
}

// 5 MiB is more than a process context carries in one message (its rings
// are 4 MiB): there the value must stay queued with a clear error, never be
// taken off the queue and lost. Other modes carry it.
TEST_P(Channels, AValueTooLargeToCarryStaysQueuedWithAClearError) {
    Channel ch = make_channel(4, 1);
    const std::string big(5u << 20, 'x');
    ASSERT_TRUE(IsOk(pyctx_channel_send(ch.get(), reinterpret_cast<const uint8_t *>(big.data()),
                                        big.size(), PYCTX_NO_TIMEOUT)));
    const uint8_t small[] = {'o', 'k'};
    ASSERT_TRUE(IsOk(pyctx_channel_send(ch.get(), small, sizeof small, PYCTX_NO_TIMEOUT)));
    const std::string recv_len = "len(pyctx.Channel(" + std::to_string(pyctx_channel_id(ch.get())) +
                                 ").recv())";
    if (GetParam() != PYCTX_MODE_PROCESS) {
        EXPECT_EQ(eval_int(ctx.get(), recv_len.c_str()), static_cast<int64_t>(big.size()));
        EXPECT_EQ(eval_int(ctx.get(), recv_len.c_str()), 2);
        return;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {  // and again: still there
        Outcome o = eval(ctx.get(), recv_len.c_str());
        ASSERT_FALSE(o.ok());
        EXPECT_NE(o.describe().find("exceeds what a process context carries"), std::string::npos)
            << o.describe();
        EXPECT_NE(o.describe().find("stays queued"), std::string::npos) << o.describe();
        pyctx_channel_stats_t s = stats(ch.get());
        EXPECT_EQ(s.to_python, 0u);
        EXPECT_EQ(s.queued_to_python, 2u);
    }
}

TEST_P(Channels, BlockedReceiveCanBeCancelled) {
    Channel ch = make_channel(1);
    uint64_t id = submit("recv_until_closed", cbor_array(pyctx_channel_id(ch.get())));
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx.get(), id)));
    ASSERT_TRUE(done.wait_for(1));
    EXPECT_EQ(done.find(id)->status, PYCTX_ERR_CANCELLED);
    // The channel and the context still work; no value was lost.
    ASSERT_EQ(send_int(ch.get(), 7), PYCTX_OK);
    std::string cid = std::to_string(pyctx_channel_id(ch.get()));
    EXPECT_EQ(eval_int(ctx.get(), ("pyctx.Channel(" + cid + ").recv()").c_str()), 7);
}

TEST_P(Channels, BlockedReceiveKeepsTheContextServing) {
    Channel ch = make_channel(1);
    uint64_t id = submit("pump", cbor_array(pyctx_channel_id(ch.get()), 1));
    // The pump was queued first and cannot finish without a value, so this
    // eval can only run while the pump waits in recv(): the context serves.
    EXPECT_EQ(eval_int(ctx.get(), "6 * 7"), 42);
    EXPECT_EQ(done.count(), 0u);  // the pump is still waiting for its value
    ASSERT_EQ(send_int(ch.get(), 5), PYCTX_OK);
    EXPECT_EQ(recv_int(ch.get()), 10);
    ASSERT_TRUE(done.wait_for(1));
    EXPECT_EQ(done.find(id)->status, PYCTX_OK);
}

// In a process context the channel stays in the host process and every
// Python operation crosses the rings (core/python/channel_remote.h): the
// same behaviour, proven by the same cases.
INSTANTIATE_TEST_SUITE_P(Modes, Channels,
                         ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL, PYCTX_MODE_PROCESS),
                         [](const auto &info) { return std::string(mode_name(info.param)); });

TEST(ChannelApi, BadArguments) {
    pyctx_channel_t *raw = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_channel_new(0, 0, &raw), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_channel_new(1, 0, nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    Channel ch = make_channel(1);
    const uint8_t bad[] = {0x82, 0x01};
    EXPECT_TRUE(FailsWith(pyctx_channel_send(ch.get(), bad, sizeof bad, 0), PYCTX_ERR_DECODE));
    EXPECT_TRUE(FailsWith(pyctx_channel_send(nullptr, bad, 1, 0), PYCTX_ERR_INVALID_ARGUMENT));
    Bytes out;
    EXPECT_TRUE(FailsWith(pyctx_channel_try_recv(ch.get(), out.out()), PYCTX_ERR_TIMEOUT));
    EXPECT_EQ(pyctx_channel_id(nullptr), 0u);
    pyctx_channel_free(nullptr);
    pyctx_channel_close(nullptr);
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, PYCTX_MODE_WORKER)));
    Outcome o = eval(ctx.get(), "__import__('pyctx').Channel(123456789)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "LookupError")) << o.describe();
}

} // namespace
