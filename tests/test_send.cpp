// pyctx.send: messages from Python to named endpoints and to the router,
// in order per sender, without waiting; unknown and dead targets raise
// SendError or report False with missing_ok; finalizers run exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct Inbox {
    std::mutex mu;
    std::vector<std::string> targets, values, contexts;
    Counter count;
    std::atomic<int> freed{0};
    int answer = 0;  // what the send function returns
};

int inbox_fn(void *ud, const char *context_name, const uint8_t *target, size_t target_len,
             const uint8_t *value, size_t value_len) {
    auto *in = static_cast<Inbox *>(ud);
    {
        std::lock_guard<std::mutex> lock(in->mu);
        in->targets.push_back(diag(target, target_len));
        in->values.push_back(diag(value, value_len));
        in->contexts.emplace_back(context_name);
    }
    in->count.add();
    return in->answer;
}

void inbox_free(void *ud) { static_cast<Inbox *>(ud)->freed++; }

class Send : public ::testing::TestWithParam<pyctx_mode> {
protected:
    void SetUp() override {
        if (GetParam() == PYCTX_MODE_OWNGIL && !pyctx_owngil_supported()) GTEST_SKIP();
        ContextSpec spec;
        spec.mode = GetParam();
        spec.name = "sender";
        spec.preload = "import pyctx\n";
        ASSERT_TRUE(IsOk(create_context(ctx, spec)));
    }
    Context ctx;
};

TEST_P(Send, NamedEndpointGetsMessagesInOrder) {
    Inbox in;
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("inbox", inbox_fn, &in, inbox_free)));
    ASSERT_TRUE(exec(ctx.get(),
                     "for i in range(1000):\n"
                     "    assert pyctx.send('inbox', [i, 'x']) is True\n")
                    .ok());
    // send() delivered on the sending thread before it returned.
    ASSERT_EQ(in.count.value(), 1000u);
    for (size_t i = 0; i < 1000; ++i) {
        ASSERT_EQ(in.values[i], "[" + std::to_string(i) + ", \"x\"]");
        ASSERT_EQ(in.targets[i], "\"inbox\"");
    }
    EXPECT_EQ(in.contexts[0], "sender");
    ASSERT_TRUE(IsOk(pyctx_endpoint_unregister("inbox")));
    EXPECT_EQ(in.freed.load(), 1);
    // Unregistered: an unknown target.
    Outcome o = eval(ctx.get(), "pyctx.send('inbox', 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "pyctx.SendError")) << o.describe();
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("no endpoint named 'inbox'"),
              std::string::npos);
    EXPECT_EQ(eval_text(ctx.get(), "repr(pyctx.send('inbox', 1, missing_ok=True))"), "False");
    EXPECT_EQ(eval_text(ctx.get(), "repr(issubclass(pyctx.SendError, LookupError))"), "True");
}

TEST_P(Send, DeadTargetRaisesOrReportsFalse) {
    Inbox in;
    in.answer = 1;  // the receiver is gone
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("gone", inbox_fn, &in, inbox_free)));
    Outcome o = eval(ctx.get(), "pyctx.send('gone', 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "pyctx.SendError")) << o.describe();
    EXPECT_EQ(eval_text(ctx.get(), "repr(pyctx.send('gone', 2, missing_ok=True))"), "False");
    EXPECT_EQ(in.count.value(), 2u);
    ASSERT_TRUE(IsOk(pyctx_endpoint_unregister("gone")));
}

TEST_P(Send, OtherTargetsGoToTheRouter) {
    Inbox in;
    Outcome o = eval(ctx.get(), "pyctx.send(pyctx.HostTerm(b'pid'), 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "pyctx.SendError")) << o.describe();
    ASSERT_TRUE(IsOk(pyctx_send_set_router(inbox_fn, &in, inbox_free)));
    ASSERT_TRUE(exec(ctx.get(),
                     "pyctx.send(pyctx.HostTerm(b'pid'), 'a')\n"
                     "pyctx.send(pyctx.Symbol('registered'), 'b')\n"
                     "pyctx.send(('name', 'node'), 'c')\n")
                    .ok());
    ASSERT_EQ(in.count.value(), 3u);
    EXPECT_EQ(in.targets[0], "28794(h'706964')");
    EXPECT_EQ(in.targets[1], "39(\"registered\")");
    EXPECT_EQ(in.targets[2], "28793([\"name\", \"node\"])");
    EXPECT_EQ(in.values[2], "\"c\"");
    ASSERT_TRUE(IsOk(pyctx_send_set_router(nullptr, nullptr, nullptr)));
    EXPECT_EQ(in.freed.load(), 1);
}

TEST_P(Send, BadArgumentsAreClear) {
    Outcome o = eval(ctx.get(), "pyctx.send('x')");
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
    o = eval(ctx.get(), "pyctx.send('x', object())");
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
    o = eval(ctx.get(), "pyctx.send('x', 1, bogus=1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "TypeError")) << o.describe();
}

TEST_P(Send, FromAPythonThreadOfItsOwn) {
    Inbox in;
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("t.inbox", inbox_fn, &in, inbox_free)));
    ASSERT_TRUE(exec(ctx.get(),
                     "import threading\n"
                     "t = threading.Thread(target=lambda: pyctx.send('t.inbox', 'from thread'))\n"
                     "t.start(); t.join()\n")
                    .ok());
    ASSERT_EQ(in.count.value(), 1u);
    EXPECT_EQ(in.values[0], "\"from thread\"");
    EXPECT_EQ(in.contexts[0], "");
    ASSERT_TRUE(IsOk(pyctx_endpoint_unregister("t.inbox")));
}

INSTANTIATE_TEST_SUITE_P(Modes, Send, ::testing::Values(PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL),
                         [](const auto &info) { return std::string(mode_name(info.param)); });

TEST(SendApi, InvalidRegistrations) {
    EXPECT_TRUE(FailsWith(pyctx_endpoint_register(nullptr, inbox_fn, nullptr, nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_endpoint_register("x", nullptr, nullptr, nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_endpoint_unregister("never"), PYCTX_ERR_NOT_FOUND));
    int dummy = 0;
    EXPECT_TRUE(FailsWith(pyctx_send_set_router(nullptr, &dummy, nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
}

// Replacing an endpoint finalizes the old one once, unregistering the new one.
TEST(SendApi, ReplaceFinalizesOnce) {
    Inbox a, b;
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("r", inbox_fn, &a, inbox_free)));
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("r", inbox_fn, &b, inbox_free)));
    EXPECT_EQ(a.freed.load(), 1);
    EXPECT_EQ(b.freed.load(), 0);
    ASSERT_TRUE(IsOk(pyctx_endpoint_unregister("r")));
    EXPECT_EQ(b.freed.load(), 1);
}

} // namespace
