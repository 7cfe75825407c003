// Streams (pyctx.h "Streams"): generators, iterators and async generators
// read item by item. Backpressure is proven by a generator that counts how
// far it was advanced; cancel runs its finally block; an exception
// mid-stream ends the stream with that error and traceback after the items
// before it; async generators stream concurrently on one context (each
// waits, before its second item, until every other one has produced its
// first); the pull form with its timeout; the end is reported exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

constexpr const char *kPreload =
    "import asyncio\n"
    "advanced = 0\n"
    "finished = []\n"
    "def counting(n):\n"
    "    global advanced\n"
    "    try:\n"
    "        for i in range(n):\n"
    "            advanced += 1\n"
    "            yield i\n"
    "    finally:\n"
    "        finished.append('counting')\n"
    "def failing():\n"
    "    yield 1\n"
    "    yield 2\n"
    "    raise ValueError('bad item 3')\n"
    "def raises_at_once():\n"
    "    raise KeyError('no stream for you')\n"
    "started = set()\n"
    "gate = {}\n"
    "async def ticker(name, n, width):\n"
    "    if 'all' not in gate:\n"
    "        gate['all'] = asyncio.Event()\n"
    "    try:\n"
    "        for i in range(n):\n"
    "            await asyncio.sleep(0.001)\n"
    "            if i == 1:\n"
    "                await asyncio.wait_for(gate['all'].wait(), 20)\n"
    "            yield [name, i]\n"
    "            if i == 0:\n"
    "                started.add(name)\n"
    "                if len(started) == width:\n"
    "                    gate['all'].set()\n"
    "    finally:\n"
    "        finished.append(name)\n"
    "async def gated():\n"
    "    gate['open'] = asyncio.Event()\n"
    "    yield 'first'\n"
    "    await gate['open'].wait()\n"
    "    yield 'second'\n"
    "def open_gate():\n"
    "    gate['open'].set()\n"
    "async def endless():\n"
    "    try:\n"
    "        i = 0\n"
    "        while True:\n"
    "            await asyncio.sleep(0)\n"
    "            yield i\n"
    "            i += 1\n"
    "    finally:\n"
    "        finished.append('endless')\n"
    "class Source:\n"
    "    def upto(self, n):\n"
    "        yield from range(n)\n";

constexpr auto kBound = std::chrono::seconds(30);  // only reached when something is broken

// What a stream delivered, with waits for it.
struct Collector {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Cbor> items;
    int ends = 0;
    pyctx_status status = PYCTX_OK;
    std::string python_type, message, traceback;
    bool items_after_end = false;

    static void on_item(void *ud, pyctx_stream_t *, const uint8_t *item, size_t len) {
        auto *c = static_cast<Collector *>(ud);
        std::lock_guard lock(c->mu);
        if (c->ends) c->items_after_end = true;
        c->items.emplace_back(item, item + len);
        c->cv.notify_all();
    }
    static void on_end(void *ud, pyctx_stream_t *, pyctx_status status, const pyctx_error_t *e) {
        auto *c = static_cast<Collector *>(ud);
        std::lock_guard lock(c->mu);
        ++c->ends;
        c->status = status;
        if (e) {
            c->python_type = pyctx_error_python_type(e);
            c->message = pyctx_error_message(e);
            c->traceback = pyctx_error_traceback(e);
        }
        c->cv.notify_all();
    }
    bool wait_items(size_t n) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, kBound, [&] { return items.size() >= n || ends; }) && items.size() >= n;
    }
    bool wait_end() {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, kBound, [&] { return ends > 0; });
    }
    std::vector<int64_t> ints() {
        std::lock_guard lock(mu);
        std::vector<int64_t> out;
        for (const Cbor &c : items) out.push_back(as_int(c).value_or(-999));
        return out;
    }
};

class StreamTest : public ModeTest {
protected:
    void SetUp() override {
        ModeTest::SetUp();
        if (IsSkipped()) return;
        ContextSpec spec;
        spec.mode = mode();
        spec.preload = kPreload;
        ASSERT_TRUE(IsOk(create_context(ctx_, spec)));
    }
    pyctx_context_t *ctx() { return ctx_.get(); }

    Request call_request(const char *function, const Cbor &args = {}) {
        pyctx_request_t *raw = nullptr;
        EXPECT_TRUE(IsOk(pyctx_request_new(&raw)));
        Request r(raw);
        EXPECT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
        EXPECT_TRUE(IsOk(pyctx_request_set_call(raw, "__main__", function)));
        if (!args.empty()) EXPECT_TRUE(IsOk(pyctx_request_set_args(raw, args.data(), args.size())));
        return r;
    }
    Stream open(pyctx_request_t *r, uint32_t credit, Collector *c) {
        pyctx_stream_t *s = nullptr;
        EXPECT_TRUE(IsOk(pyctx_stream_open(r, credit, Collector::on_item, Collector::on_end, c,
                                           nullptr, &s)));
        return Stream(s);
    }
    Context ctx_;
};
PYCTX_INSTANTIATE_FOR_ALL_MODES(StreamTest);

TEST_P(StreamTest, TheGeneratorIsNeverAdvancedBeyondTheCredit) {
    Collector c;
    Request r = call_request("counting", cbor_array(10));
    Stream s = open(r.get(), 3, &c);
    ASSERT_TRUE(c.wait_items(3));
    // No pull is in flight once the credit is used: this eval runs after
    // everything the stream did.
    EXPECT_EQ(eval_int(ctx(), "advanced"), 3);
    ASSERT_TRUE(IsOk(pyctx_stream_credit(s.get(), 2)));
    ASSERT_TRUE(c.wait_items(5));
    EXPECT_EQ(eval_int(ctx(), "advanced"), 5);
    EXPECT_EQ(pyctx_stream_is_done(s.get()), 0);
    ASSERT_TRUE(IsOk(pyctx_stream_credit(s.get(), 1000)));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.status, PYCTX_OK);
    EXPECT_EQ(c.ints(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(eval_int(ctx(), "advanced"), 10);
    EXPECT_EQ(eval_text(ctx(), "','.join(finished)"), "counting");
    s.reset();
    EXPECT_EQ(c.ends, 1);
    EXPECT_FALSE(c.items_after_end);
}

TEST_P(StreamTest, CancelClosesTheGeneratorAndRunsItsFinally) {
    Collector c;
    Request r = call_request("counting", cbor_array(1000000));
    Stream s = open(r.get(), 5, &c);
    ASSERT_TRUE(c.wait_items(5));
    ASSERT_TRUE(IsOk(pyctx_stream_cancel(s.get())));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(eval_text(ctx(), "','.join(finished)"), "counting");
    EXPECT_EQ(eval_int(ctx(), "advanced"), 5);
    ASSERT_TRUE(IsOk(pyctx_stream_cancel(s.get())));  // again: nothing more happens
    ASSERT_TRUE(IsOk(pyctx_stream_credit(s.get(), 10)));
    s.reset();
    EXPECT_EQ(c.ends, 1);
    EXPECT_EQ(c.items.size(), 5u);
}

TEST_P(StreamTest, AnExceptionMidStreamEndsItWithTypeMessageAndTraceback) {
    Collector c;
    Request r = call_request("failing");
    Stream s = open(r.get(), 10, &c);
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.ints(), (std::vector<int64_t>{1, 2}));  // the items before it arrived
    EXPECT_EQ(c.status, PYCTX_ERR_PYTHON);
    EXPECT_EQ(c.python_type, "ValueError");
    EXPECT_EQ(c.message, "bad item 3");
    EXPECT_NE(c.traceback.find("in failing"), std::string::npos) << c.traceback;
    EXPECT_NE(c.traceback.find("ValueError: bad item 3"), std::string::npos) << c.traceback;

    // The call itself raises, or returns nothing iterable: the end says so.
    Collector at_once, not_iterable;
    Request r2 = call_request("raises_at_once");
    Stream s2 = open(r2.get(), 1, &at_once);
    ASSERT_TRUE(at_once.wait_end());
    EXPECT_EQ(at_once.python_type, "KeyError");
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    Request r3(raw);
    ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(raw, "42")));
    Stream s3 = open(raw, 1, &not_iterable);
    ASSERT_TRUE(not_iterable.wait_end());
    EXPECT_EQ(not_iterable.status, PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_NE(not_iterable.message.find("'int'"), std::string::npos) << not_iterable.message;
    EXPECT_TRUE(not_iterable.items.empty());
}

TEST_P(StreamTest, IteratorsIterablesAndMethodsOfHandlesStreamToo) {
    for (const char *expr : {"iter([4, 5, 6])", "[4, 5, 6]", "(x for x in (4, 5, 6))"}) {
        pyctx_request_t *raw = nullptr;
        ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
        Request r(raw);
        ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
        ASSERT_TRUE(IsOk(pyctx_request_set_eval(raw, expr)));
        Collector c;
        Stream s = open(raw, 100, &c);
        ASSERT_TRUE(c.wait_end()) << expr;
        EXPECT_EQ(c.status, PYCTX_OK) << expr << ": " << c.message;
        EXPECT_EQ(c.ints(), (std::vector<int64_t>{4, 5, 6})) << expr;
    }
    // A method of an object handle.
    pyctx_request_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_new(&raw)));
    Request r(raw);
    ASSERT_TRUE(IsOk(pyctx_request_set_context(raw, ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(raw, "Source()")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(raw, PYCTX_RESULT_OBJECT)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(raw)));
    ASSERT_TRUE(IsOk(pyctx_request_wait(raw, PYCTX_NO_TIMEOUT)));
    pyctx_object_t *source = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_take_object(raw, &source)));
    Cbor args = cbor_array(4);
    ASSERT_TRUE(IsOk(pyctx_request_set_method_call(raw, source, "upto")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(raw, PYCTX_RESULT_VALUE)));
    ASSERT_TRUE(IsOk(pyctx_request_set_args(raw, args.data(), args.size())));
    Collector c;
    Stream s = open(raw, 2, &c);
    ASSERT_TRUE(c.wait_items(2));
    ASSERT_TRUE(IsOk(pyctx_stream_credit(s.get(), 3)));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.ints(), (std::vector<int64_t>{0, 1, 2, 3}));
    pyctx_object_free(source);
    // Kinds that cannot stream.
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(raw, "pass")));
    pyctx_stream_t *none = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_stream_open(raw, 1, nullptr, nullptr, nullptr, nullptr, &none),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(none, nullptr);
}

TEST_P(StreamTest, AsyncGeneratorsStreamConcurrentlyOnOneContext) {
    constexpr int kStreams = 4, kItems = 5;
    std::vector<std::unique_ptr<Collector>> cs;
    std::vector<Request> rs;
    std::vector<Stream> ss;
    for (int i = 0; i < kStreams; ++i) {
        cs.push_back(std::make_unique<Collector>());
        std::string name = "t" + std::to_string(i);
        rs.push_back(call_request("ticker", cbor_array(name.c_str(), kItems, kStreams)));
        ss.push_back(open(rs.back().get(), 100, cs.back().get()));
    }
    for (int i = 0; i < kStreams; ++i) {
        // Each waited for all the others' first items: sequential streams
        // would time out inside Python (asyncio.wait_for) instead.
        ASSERT_TRUE(cs[i]->wait_end());
        EXPECT_EQ(cs[i]->status, PYCTX_OK) << cs[i]->python_type << ": " << cs[i]->message;
        ASSERT_EQ(cs[i]->items.size(), static_cast<size_t>(kItems));
        for (int k = 0; k < kItems; ++k) {
            std::string want = "[\"t" + std::to_string(i) + "\", " + std::to_string(k) + "]";
            EXPECT_EQ(diag(cs[i]->items[k]), want);
        }
    }
    EXPECT_EQ(eval_int(ctx(), "len(finished)"), kStreams);
}

TEST_P(StreamTest, CancellingAnAsyncGeneratorRunsItsFinally) {
    Collector c;
    Request r = call_request("endless");
    Stream s = open(r.get(), 1000000000u, &c);
    ASSERT_TRUE(c.wait_items(50));
    ASSERT_TRUE(IsOk(pyctx_stream_cancel(s.get())));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(eval_text(ctx(), "','.join(finished)"), "endless");
    std::vector<int64_t> got = c.ints();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<int64_t>(i));
}

TEST_P(StreamTest, ThePullFormGrantsItsOwnCreditAndTimesOut) {
    Request r = call_request("counting", cbor_array(5));
    pyctx_stream_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_stream_open(r.get(), 2, nullptr, nullptr, nullptr, nullptr, &raw)));
    Stream s(raw);
    std::vector<int64_t> got;
    for (;;) {
        Bytes item;
        int done = 0;
        ASSERT_TRUE(IsOk(pyctx_stream_next(s.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
        if (done) break;
        got.push_back(as_int(item).value_or(-1));
        // Never more than the window ahead of what was taken.
        EXPECT_LE(eval_int(ctx(), "advanced").value_or(99), static_cast<int64_t>(got.size()) + 2);
    }
    EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(pyctx_stream_is_done(s.get()), 1);

    // Nothing comes while the generator waits for its gate: a timeout, and
    // the stream goes on.
    Request g = call_request("gated");
    ASSERT_TRUE(IsOk(pyctx_stream_open(g.get(), 1, nullptr, nullptr, nullptr, nullptr, &raw)));
    Stream gs(raw);
    Bytes item;
    int done = 0;
    ASSERT_TRUE(IsOk(pyctx_stream_next(gs.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
    EXPECT_EQ(as_text(item), "first");
    EXPECT_TRUE(FailsWith(pyctx_stream_next(gs.get(), 20, item.out(), &done), PYCTX_ERR_TIMEOUT));
    EXPECT_TRUE(call(ctx(), "__main__", "open_gate").ok());
    ASSERT_TRUE(IsOk(pyctx_stream_next(gs.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
    EXPECT_EQ(as_text(item), "second");
    ASSERT_TRUE(IsOk(pyctx_stream_next(gs.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
    EXPECT_EQ(done, 1);

    // An error end comes back from next as that error.
    Request f = call_request("failing");
    ASSERT_TRUE(IsOk(pyctx_stream_open(f.get(), 1, nullptr, nullptr, nullptr, nullptr, &raw)));
    Stream fs(raw);
    ASSERT_TRUE(IsOk(pyctx_stream_next(fs.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
    ASSERT_TRUE(IsOk(pyctx_stream_next(fs.get(), PYCTX_NO_TIMEOUT, item.out(), &done)));
    Error e(pyctx_stream_next(fs.get(), PYCTX_NO_TIMEOUT, item.out(), &done));
    EXPECT_EQ(done, 1);
    EXPECT_TRUE(RaisesPython(e.get(), "ValueError"));

    // A callback stream has no pull form.
    Collector c;
    Request r4 = call_request("counting", cbor_array(1));
    Stream cs = open(r4.get(), 0, &c);
    EXPECT_TRUE(FailsWith(pyctx_stream_next(cs.get(), 0, item.out(), &done), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST_P(StreamTest, ClosingTheContextEndsOpenStreamsOnceAndFreesUserData) {
    static std::atomic<int> freed{0};
    freed = 0;
    Collector sync_c, async_c;
    Request r1 = call_request("counting", cbor_array(1000000000));
    Request r2 = call_request("endless");
    pyctx_stream_t *s1 = nullptr, *s2 = nullptr;
    auto free_fn = [](void *) { freed.fetch_add(1); };
    ASSERT_TRUE(IsOk(pyctx_stream_open(r1.get(), 1000000000u, Collector::on_item, Collector::on_end,
                                       &sync_c, free_fn, &s1)));
    ASSERT_TRUE(IsOk(pyctx_stream_open(r2.get(), 1000000000u, Collector::on_item, Collector::on_end,
                                       &async_c, free_fn, &s2)));
    ASSERT_TRUE(sync_c.wait_items(100));
    ASSERT_TRUE(async_c.wait_items(10));
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    ASSERT_TRUE(sync_c.wait_end());
    ASSERT_TRUE(async_c.wait_end());
    EXPECT_EQ(sync_c.status, PYCTX_ERR_CLOSED);
    EXPECT_EQ(async_c.status, PYCTX_ERR_CLOSED);
    pyctx_stream_free(s1);
    pyctx_stream_free(s2);
    EXPECT_EQ(freed.load(), 2);
    EXPECT_EQ(sync_c.ends, 1);
    EXPECT_EQ(async_c.ends, 1);
    EXPECT_FALSE(sync_c.items_after_end || async_c.items_after_end);

    // A closed context refuses a new stream at once.
    Request r3 = call_request("counting", cbor_array(1));
    pyctx_stream_t *none = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_stream_open(r3.get(), 1, nullptr, nullptr, nullptr, nullptr, &none),
                          PYCTX_ERR_CLOSED));
}

// A stream that used up its credit has no message in its context: the
// close still ends it, at once, without waiting for a credit or a cancel.
TEST_P(StreamTest, AStreamWaitingForCreditIsToldThatItsContextClosed) {
    Collector c;
    Request r = call_request("counting", cbor_array(10));
    Stream s = open(r.get(), 2, &c);
    ASSERT_TRUE(c.wait_items(2));
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.status, PYCTX_ERR_CLOSED) << c.message;
    EXPECT_EQ(pyctx_stream_is_done(s.get()), 1);
    EXPECT_EQ(c.ints(), (std::vector<int64_t>{0, 1}));
    // Credit after the end is ignored; the end stays the one reported.
    EXPECT_TRUE(IsOk(pyctx_stream_credit(s.get(), 5)));
    EXPECT_EQ(c.ends, 1);
}

// An async generator suspended in an await when its context closes ends
// with CLOSED, like a plain generator: the close cut it, not a cancel.
TEST_P(StreamTest, AnAsyncGeneratorCutByCloseEndsClosed) {
    Collector c;
    Request r = call_request("gated");
    Stream s = open(r.get(), 5, &c);
    ASSERT_TRUE(c.wait_items(1));  // now waiting on the gate, a pull in flight
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    ASSERT_TRUE(c.wait_end());
    EXPECT_EQ(c.status, PYCTX_ERR_CLOSED) << c.message;
    EXPECT_EQ(c.ends, 1);
}

TEST_P(StreamTest, FreeingAnOpenStreamCancelsItAndFreeFromItsEndIsAllowed) {
    static std::atomic<int> freed{0};
    freed = 0;
    Collector c;
    Request r = call_request("counting", cbor_array(1000000));
    pyctx_stream_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_stream_open(r.get(), 3, Collector::on_item, Collector::on_end, &c,
                                       [](void *) { freed.fetch_add(1); }, &raw)));
    ASSERT_TRUE(c.wait_items(3));
    pyctx_stream_free(raw);  // cancels, waits for the end, releases the user data
    EXPECT_EQ(freed.load(), 1);
    EXPECT_EQ(c.ends, 1);
    EXPECT_EQ(c.status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(eval_text(ctx(), "','.join(finished)"), "counting");

    struct SelfFree {
        std::atomic<int> ended{0};
    } sf;
    auto end_and_free = [](void *ud, pyctx_stream_t *s, pyctx_status, const pyctx_error_t *) {
        pyctx_stream_free(s);
        static_cast<SelfFree *>(ud)->ended.store(1);
    };
    Request r2 = call_request("counting", cbor_array(2));
    ASSERT_TRUE(IsOk(pyctx_stream_open(r2.get(), 10, nullptr, end_and_free, &sf, nullptr, &raw)));
    // Pull form with an end callback that frees: drain nothing, just wait.
    auto until = std::chrono::steady_clock::now() + kBound;
    while (!sf.ended.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    EXPECT_EQ(sf.ended.load(), 1);
}

}  // namespace
