// The builtin host calls a process context's child makes for the host's
// shared store and pyctx.send (core/host/builtin_calls.h): answers for every
// operation, and malformed calls -- which only a broken or hostile child
// sends -- refused without touching the store.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cbor/diag.h"
#include "core/cbor/writer.h"
#include "core/host/builtin_calls.h"
#include "core/host/channel.h"
#include "core/host/host_call.h"
#include "core/host/endpoints.h"
#include "core/host/store.h"

namespace pyctx::core {
namespace {

using builtin::StoreOp;

// A tiny CBOR builder for call arguments.
struct Args {
    ByteBuffer b;
    Args &array(uint64_t n) { EXPECT_TRUE(cbor::write_head(b, cbor::Major::array, n)); return *this; }
    Args &uint(uint64_t v) { EXPECT_TRUE(cbor::write_uint(b, v)); return *this; }
    Args &text(std::string_view s) { EXPECT_TRUE(cbor::write_text(b, s.data(), s.size())); return *this; }
    Args &boolean(bool v) { EXPECT_TRUE(cbor::write_bool(b, v)); return *this; }
    Args &op(StoreOp o) { return uint(static_cast<uint64_t>(o)); }
    std::string_view view() const { return {reinterpret_cast<const char *>(b.data()), b.size()}; }
    std::string bytes() const { return std::string(view()); }
};

std::string diag_of(const ByteBuffer &b) {
    std::string out;
    Error err;
    EXPECT_TRUE(cbor::diagnose(b.data(), b.size(), &out, &err)) << err.message;
    return out;
}

std::string store_call(std::string_view args, bool *ok = nullptr) {
    ByteBuffer answer;
    std::string error;
    const bool done = builtin::run_store(args, answer, &error);
    if (ok) *ok = done;
    return done ? diag_of(answer) : "error: " + error;
}
std::string store_call(const Args &a, bool *ok = nullptr) { return store_call(a.view(), ok); }

class BuiltinStore : public ::testing::Test {
protected:
    void SetUp() override { key_ = "unit-builtin-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
    void TearDown() override { shared_store().erase(key_); }
    std::string key_;
};

TEST_F(BuiltinStore, EveryOperationAnswersWhatTheStoreHolds) {
    EXPECT_EQ(store_call(Args().array(2).op(StoreOp::get).text(key_)), "[]");
    std::string put = store_call(Args().array(3).op(StoreOp::put).text(key_).text("v1"));
    uint64_t v1 = 0;
    std::string value;
    ASSERT_TRUE(shared_store().get(key_, &value, &v1));
    EXPECT_EQ(put, "[true, " + std::to_string(v1) + "]");
    EXPECT_EQ(store_call(Args().array(2).op(StoreOp::get).text(key_)),
              "[\"v1\", " + std::to_string(v1) + "]");
    // A stale version: no swap, the current version comes back.
    EXPECT_EQ(store_call(Args().array(4).op(StoreOp::cas).text(key_).uint(v1 + 1000).text("v2")),
              "[true, false, " + std::to_string(v1) + "]");
    std::string won = store_call(Args().array(4).op(StoreOp::cas).text(key_).uint(v1).text("v2"));
    uint64_t v2 = 0;
    ASSERT_TRUE(shared_store().get(key_, &value, &v2));
    EXPECT_NE(v2, v1);
    EXPECT_EQ(won, "[true, true, " + std::to_string(v2) + "]");
    EXPECT_EQ(store_call(Args().array(2).op(StoreOp::keys).text(key_)), "[\"" + key_ + "\"]");
    EXPECT_EQ(store_call(Args().array(3).op(StoreOp::erase).text(key_).uint(v1)), "false");
    EXPECT_EQ(store_call(Args().array(3).op(StoreOp::erase).text(key_).uint(0)), "true");
    EXPECT_FALSE(shared_store().get(key_, &value, nullptr));
}

TEST_F(BuiltinStore, AStoreErrorIsAnsweredWithItsStatus) {
    // An invalid key is the store's error, answered (not a malformed call).
    bool ok = false;
    std::string a = store_call(Args().array(3).op(StoreOp::put).text("").uint(1), &ok);
    EXPECT_TRUE(ok) << a;
    EXPECT_EQ(a.rfind("[false, " + std::to_string(static_cast<int>(Status::invalid_argument)) + ", ", 0), 0u) << a;
}

TEST_F(BuiltinStore, MalformedCallsAreRefusedAndChangeNothing) {
    const std::vector<std::string> bad = {
        Args().uint(1).bytes(),                                                   // not an array
        Args().array(1).op(StoreOp::get).bytes(),                                 // no key
        Args().array(2).text("get").text(key_).bytes(),                           // op not a number
        Args().array(2).op(StoreOp::get).uint(5).bytes(),                         // key not text
        Args().array(2).uint(99).text(key_).bytes(),                              // unknown op
        Args().array(2).op(StoreOp::put).text(key_).bytes(),                      // put without value
        Args().array(3).op(StoreOp::put).text(key_).bytes(),                      // value missing (truncated)
        Args().array(4).op(StoreOp::cas).text(key_).text("x").text("y").bytes(),  // version not a number
        Args().array(3).op(StoreOp::erase).text(key_).text("x").bytes(),          // version not a number
    };
    for (const std::string &a : bad) {
        bool ok = true;
        std::string answer = store_call(a, &ok);
        EXPECT_FALSE(ok) << answer;
        EXPECT_NE(answer.find("error: "), std::string::npos);
    }
    std::string value;
    EXPECT_FALSE(shared_store().get(key_, &value, nullptr));
}

struct Inbox : Endpoint {
    std::vector<std::string> got;
    bool alive = true;
    bool deliver(const Message &m) override {
        if (!alive) return false;
        got.push_back(std::string(m.context_name) + "|" + std::to_string(m.target_len) + "|" +
                      std::to_string(m.value_len));
        return true;
    }
};

std::string send_call(const Args &a, std::string_view context = "ctx") {
    ByteBuffer answer;
    std::string error;
    if (!builtin::run_send(context, a.view(), answer, &error)) return "error: " + error;
    return diag_of(answer);
}

TEST(BuiltinSend, NamedEndpointsRouterAndFailures) {
    auto inbox = std::make_shared<Inbox>();
    endpoints().add("unit-inbox", inbox);
    EXPECT_EQ(send_call(Args().array(3).text("unit-inbox").uint(7).boolean(true), "c1"), "[true]");
    ASSERT_EQ(inbox->got.size(), 1u);
    // The target's CBOR (a 10-byte text: 1 head byte + 10), the value's (1 byte).
    EXPECT_EQ(inbox->got[0], "c1|11|1");
    inbox->alive = false;
    EXPECT_EQ(send_call(Args().array(3).text("unit-inbox").uint(7).boolean(true)),
              "[false, \"endpoint 'unit-inbox' is closed\"]");
    endpoints().remove("unit-inbox");
    EXPECT_EQ(send_call(Args().array(3).text("unit-inbox").uint(7).boolean(true)),
              "[false, \"no endpoint named 'unit-inbox' is registered\"]");
    // Not by name: the router, or a failure when none is set.
    endpoints().set_router(nullptr);
    EXPECT_EQ(send_call(Args().array(3).uint(1).uint(2).boolean(false)).rfind("[false, ", 0), 0u);
    auto router = std::make_shared<Inbox>();
    endpoints().set_router(router);
    EXPECT_EQ(send_call(Args().array(3).uint(1).uint(2).boolean(false)), "[true]");
    EXPECT_EQ(router->got.size(), 1u);
    endpoints().set_router(nullptr);
    // Malformed: a "named" target that is not text, a missing flag.
    EXPECT_EQ(send_call(Args().array(3).uint(1).uint(2).boolean(true)).rfind("error: ", 0), 0u);
    EXPECT_EQ(send_call(Args().array(2).text("x").uint(2)).rfind("error: ", 0), 0u);
    EXPECT_EQ(router->got.size(), 1u);
}

std::string channel_call(const Args &a) {
    ByteBuffer answer;
    std::string error;
    if (!builtin::run_channel(a.view(), answer, &error)) return "error: " + error;
    return diag_of(answer);
}

Args &chan_op(Args &a, builtin::ChannelOp op) { return a.uint(static_cast<uint64_t>(op)); }

TEST(BuiltinChannel, OperationsOnALiveAndAGoneChannel) {
    using builtin::ChannelOp;
    std::shared_ptr<Channel> ch = channels().create(1, false);
    const uint64_t id = ch->id();
    Args open;
    chan_op(open.array(2), ChannelOp::open).uint(id);
    EXPECT_EQ(channel_call(open), "[true, false]");
    Args recv;
    chan_op(recv.array(2), ChannelOp::try_recv).uint(id);
    EXPECT_EQ(channel_call(recv), "[1]");  // would block
    Args send;
    chan_op(send.array(3), ChannelOp::try_send).uint(id).uint(5);
    EXPECT_EQ(channel_call(send), "[0]");
    EXPECT_EQ(channel_call(send), "[1]");  // capacity 1: full
    std::string v;
    EXPECT_EQ(ch->host_recv(&v, 0).status, Status::ok);
    EXPECT_EQ(v, std::string("\x05"));
    ASSERT_EQ(ch->host_send(std::string("\x07"), 0).status, Status::ok);
    EXPECT_EQ(channel_call(recv), "[0, 7]");
    // A wait on a ready channel is answered at once; on a blocked one, when
    // it becomes ready.
    Args wait;
    chan_op(wait.array(2), ChannelOp::wait_writable).uint(id);
    auto *token = new HostCall();
    std::string error;
    ASSERT_TRUE(builtin::channel_wait(wait.view(), token, &error)) << error;
    EXPECT_EQ(token->answered.load(), 1u);
    token->release();
    Args rwait;
    chan_op(rwait.array(2), ChannelOp::wait_readable).uint(id);
    token = new HostCall();
    ASSERT_TRUE(builtin::channel_wait(rwait.view(), token, &error)) << error;
    EXPECT_EQ(token->answered.load(), 0u);
    ASSERT_EQ(ch->host_send(std::string("\x01"), 0).status, Status::ok);
    EXPECT_EQ(token->answered.load(), 1u);
    token->release();
    // Waits that cannot wait are refused: a plain op through channel_wait.
    token = new HostCall();
    EXPECT_FALSE(builtin::channel_wait(recv.view(), token, &error));
    host_call_fail(token, "refused");
    token->release();
    // Gone: every operation sees a closed channel, a wait is answered.
    Args closed;
    chan_op(closed.array(2), ChannelOp::closed).uint(id);
    EXPECT_EQ(channel_call(closed), "false");
    ch->close();
    EXPECT_EQ(channel_call(closed), "true");
    ch.reset();
    channels().remove(id);
    EXPECT_EQ(channel_call(open), "[false]");
    EXPECT_EQ(channel_call(recv), "[2]");
    EXPECT_EQ(channel_call(send), "[2]");
    EXPECT_EQ(channel_call(closed), "true");
    token = new HostCall();
    ASSERT_TRUE(builtin::channel_wait(rwait.view(), token, &error));
    EXPECT_EQ(token->answered.load(), 1u);
    token->release();
    // Malformed: no id, a wait through run_channel.
    Args bad;
    chan_op(bad.array(1), ChannelOp::open);
    EXPECT_EQ(channel_call(bad).rfind("error: ", 0), 0u);
    EXPECT_EQ(channel_call(rwait).rfind("error: ", 0), 0u);
}

}  // namespace
}  // namespace pyctx::core
