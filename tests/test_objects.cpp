// Object handles (pyctx.h "Object handles"): results returned as handles, calls,
// method calls and attribute reads on them, handles nested in arguments,
// release, stats, and the errors for another context, a released handle and
// a closed context; thousands of handles made and released from several
// threads, with Python's own weak references proving nothing is left, and
// the same while the context closes.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/eventually.h"
#include "support/handles.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

constexpr const char *kPreload =
    "import asyncio, gc, weakref\n"
    "live = weakref.WeakSet()\n"
    "class Counter:\n"
    "    def __init__(self, start=0):\n"
    "        self.value = start\n"
    "        live.add(self)\n"
    "    def add(self, n=1):\n"
    "        self.value += n\n"
    "        return self.value\n"
    "    def __call__(self, k=1):\n"
    "        return self.value * k\n"
    "def make(start=0):\n"
    "    return Counter(start)\n"
    "def total(items, named):\n"
    "    return sum(c.value for c in items) + named['k'].value\n"
    "def same(a, b):\n"
    "    return a is b\n"
    "def live_count():\n"
    "    gc.collect()\n"
    "    return len(live)\n"
    "async def amake(start):\n"
    "    await asyncio.sleep(0)\n"
    "    return Counter(start)\n";

// What making a handle gave: PYCTX_OK, or the status and description.
struct Made {
    pyctx_status status = PYCTX_OK;
    std::string what;
    bool ok() const { return status == PYCTX_OK; }
};

Made failed(pyctx_error_t *raw) {
    Error e(raw);
    return Made{pyctx_error_status(e.get()), describe(e.get())};
}

// __main__.function(*args) with its result as a handle.
Made make_object(pyctx_context_t *ctx, const char *function, const Cbor &args, Object *out) {
    Request r = new_request();
    pyctx_error_t *e = pyctx_request_set_context(r.get(), ctx);
    if (!e) e = pyctx_request_set_call(r.get(), "__main__", function);
    if (!e) e = pyctx_request_set_args(r.get(), args.data(), args.size());
    if (!e) e = pyctx_request_set_result_form(r.get(), PYCTX_RESULT_OBJECT);
    if (!e) e = pyctx_request_submit(r.get());
    if (!e) e = pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT);
    if (e) return failed(e);
    if (const pyctx_error_t *err = pyctx_request_error(r.get()))
        return Made{pyctx_error_status(err), describe(err)};
    pyctx_object_t *obj = nullptr;
    if ((e = pyctx_request_take_object(r.get(), &obj))) return failed(e);
    out->reset(obj);
    return Made{};
}

Object make_counter(pyctx_context_t *ctx, int start) {
    Object o;
    Made m = make_object(ctx, "make", cbor_array(start), &o);
    EXPECT_TRUE(m.ok()) << m.what;
    return o;
}

Outcome method(const pyctx_object_t *o, const char *name, const Cbor &args = {}) {
    Outcome out;
    out.error.reset(pyctx_object_call_method(o, name, args.empty() ? nullptr : args.data(),
                                             args.size(), nullptr, 0, PYCTX_NO_TIMEOUT,
                                             out.value.out()));
    return out;
}

Cbor object_ref(const pyctx_object_t *o) {
    CborBuilder b;
    EXPECT_EQ(pyctx_cbor_write_object(b.writer(), o), 0);
    return b.take();
}

class ObjectTest : public ModeTest {
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
    Context ctx_;
};
PYCTX_INSTANTIATE_FOR_ALL_MODES(ObjectTest);

TEST_P(ObjectTest, MethodCallsAttributesCallsAndReleaseOnOneHandle) {
    Object c = make_counter(ctx(), 10);
    ASSERT_TRUE(c);
    EXPECT_EQ(pyctx_object_is_alive(c.get()), 1);
    EXPECT_NE(pyctx_object_id(c.get()), 0u);
    EXPECT_STREQ(pyctx_object_context_name(c.get()), pyctx_context_name(ctx()));
    EXPECT_EQ(stats_of(ctx()).live_objects, 1u);

    Outcome added = method(c.get(), "add", cbor_array(5));
    ASSERT_TRUE(added.ok()) << added.describe();
    EXPECT_EQ(as_int(added.value), 15);  // the object's state persists between requests
    EXPECT_EQ(as_int(method(c.get(), "add").value), 16);

    Bytes value;
    ASSERT_TRUE(IsOk(pyctx_object_getattr(c.get(), "value", PYCTX_NO_TIMEOUT, value.out())));
    EXPECT_EQ(as_int(value), 16);

    Bytes called;
    Cbor kwargs = cbor_map("k", 3);
    ASSERT_TRUE(IsOk(pyctx_object_call(c.get(), nullptr, 0, kwargs.data(), kwargs.size(),
                                       PYCTX_NO_TIMEOUT, called.out())));
    EXPECT_EQ(as_int(called), 48);

    // Keyword arguments, and more positional ones than the inline fast
    // path takes, reach the method too.
    Bytes by_keyword;
    Cbor n_is_3 = cbor_map("n", 3);
    ASSERT_TRUE(IsOk(pyctx_object_call_method(c.get(), "add", nullptr, 0, n_is_3.data(), n_is_3.size(),
                                              PYCTX_NO_TIMEOUT, by_keyword.out())));
    EXPECT_EQ(as_int(by_keyword), 19);
    Outcome too_many = method(c.get(), "add", cbor_array(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    EXPECT_TRUE(RaisesPython(too_many.error.get(), "TypeError")) << too_many.describe();
    EXPECT_NE(too_many.describe().find("add()"), std::string::npos) << too_many.describe();
    EXPECT_EQ(as_int(method(c.get(), "add", cbor_array(-3)).value), 16);

    // Python errors come back as usual.
    Outcome missing = method(c.get(), "no_such_method");
    EXPECT_TRUE(RaisesPython(missing.error.get(), "AttributeError")) << missing.describe();

    EXPECT_EQ(eval_int(ctx(), "live_count()"), 1);
    ASSERT_TRUE(IsOk(pyctx_object_release(c.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_object_is_alive(c.get()), 0);
    EXPECT_EQ(eval_int(ctx(), "live_count()"), 0);  // the reference went on the context thread
    EXPECT_EQ(stats_of(ctx()).live_objects, 0u);

    // Using it after release: a clear error, never a crash.
    Outcome after = method(c.get(), "add");
    EXPECT_TRUE(FailsWith(after.error.release(), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_object_release(c.get(), PYCTX_NO_TIMEOUT), PYCTX_ERR_INVALID_ARGUMENT));
}

TEST_P(ObjectTest, ACallOrEvalResultAndACoroutineResultBecomeHandles) {
    Request r = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_context(r.get(), ctx())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "Counter(7)")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_OBJECT)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    // The value is the object reference itself.
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(r.get(), &len);
    ASSERT_NE(v, nullptr);
    pyctx_object_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_take_object(r.get(), &raw)));
    Object evald(raw);
    EXPECT_EQ(Cbor(v, v + len), object_ref(evald.get()));
    EXPECT_TRUE(FailsWith(pyctx_request_take_object(r.get(), &raw), PYCTX_ERR_INVALID_ARGUMENT));

    Object awaited;
    Made m = make_object(ctx(), "amake", cbor_array(9), &awaited);
    ASSERT_TRUE(m.ok()) << m.what;
    EXPECT_EQ(as_int(method(awaited.get(), "add", cbor_array(1)).value), 10);
    EXPECT_EQ(stats_of(ctx()).live_objects, 2u);

    // A handle never taken is released with its request's next submission.
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    r.reset();  // ... and with its free
    evald.reset();
    awaited.reset();
    EXPECT_EQ(eval_int(ctx(), "live_count()"), 0);  // in order: the releases ran first
    // The count follows the releases' completions, which in a process
    // context may still be on their way from its io thread.
    EXPECT_TRUE(eventually([&] { return stats_of(ctx()).live_objects == 0; }))
        << stats_of(ctx()).live_objects;
}

TEST_P(ObjectTest, HandlesNestedInListsAndMapsArriveAsTheObjects) {
    Object a = make_counter(ctx(), 1), b = make_counter(ctx(), 20), k = make_counter(ctx(), 300);
    CborBuilder args;
    args.array(2).array(2).put(RawCbor{object_ref(a.get())}).put(RawCbor{object_ref(b.get())});
    args.map(1).put("k").put(RawCbor{object_ref(k.get())});
    Outcome total = call(ctx(), "__main__", "total", args.take());
    ASSERT_TRUE(total.ok()) << total.describe();
    EXPECT_EQ(as_int(total.value), 321);

    // The very object, not a copy; also as a method call argument.
    Outcome same = call(ctx(), "__main__", "same",
                        cbor_array(RawCbor{object_ref(a.get())}, RawCbor{object_ref(a.get())}));
    EXPECT_EQ(as_bool(same.value), true) << same.describe();
    Outcome added = method(a.get(), "add", cbor_array(RawCbor{object_ref(b.get())}));
    EXPECT_TRUE(RaisesPython(added.error.get(), "TypeError")) << added.describe();  // int += Counter
}

TEST_P(ObjectTest, AnotherContextAReleasedHandleAndAClosedContextAreClearErrors) {
    Object c = make_counter(ctx(), 1);
    Context other;
    ASSERT_TRUE(IsOk(create_context(other, mode())));

    // The handle with a request to another context: refused at submit.
    Request r = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_method_call(r.get(), c.get(), "add")));
    ASSERT_TRUE(IsOk(pyctx_request_set_context(r.get(), other.get())));
    EXPECT_TRUE(FailsWith(pyctx_request_submit(r.get()), PYCTX_ERR_INVALID_ARGUMENT));
    // Its reference nested in arguments to another context: refused there.
    Outcome nested = call(other.get(), "builtins", "id", cbor_array(RawCbor{object_ref(c.get())}));
    EXPECT_TRUE(FailsWith(nested.error.release(), PYCTX_ERR_DECODE));

    // A reference (copied bytes) to an object released since.
    Cbor stale = object_ref(c.get());
    ASSERT_TRUE(IsOk(pyctx_object_release(c.get(), PYCTX_NO_TIMEOUT)));
    Outcome late = call(ctx(), "builtins", "id", cbor_array(RawCbor{stale}));
    EXPECT_TRUE(FailsWith(late.error.release(), PYCTX_ERR_DECODE));

    // A malformed reference.
    CborBuilder bad;
    bad.array(1).tag(PYCTX_CBOR_TAG_OBJECT).put("not [key, id]");
    Outcome malformed = call(ctx(), "builtins", "id", bad.take());
    EXPECT_TRUE(FailsWith(malformed.error.release(), PYCTX_ERR_DECODE));

    // The context closes: its handles report closed; freeing them is fine.
    Object d = make_counter(ctx(), 2);
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    EXPECT_EQ(pyctx_object_is_alive(d.get()), 0);
    EXPECT_EQ(stats_of(ctx()).live_objects, 0u);
    Outcome closed = method(d.get(), "add");
    EXPECT_TRUE(FailsWith(closed.error.release(), PYCTX_ERR_CLOSED));
    EXPECT_TRUE(FailsWith(pyctx_object_release(d.get(), PYCTX_NO_TIMEOUT), PYCTX_ERR_CLOSED));

    // Bad arguments.
    EXPECT_TRUE(FailsWith(pyctx_request_set_method_call(r.get(), nullptr, "x"), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_request_set_getattr(r.get(), d.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_request_set_result_form(r.get(), static_cast<pyctx_result_form>(9)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(pyctx_cbor_write_object(nullptr, d.get()), -1);
    pyctx_object_free(nullptr);
}

TEST_P(ObjectTest, ThousandsOfHandlesFromSeveralThreadsLeaveNothingBehind) {
    constexpr int kThreads = 4, kEach = 600;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<Object> kept;
            for (int i = 0; i < kEach; ++i) {
                Object o;
                if (!make_object(ctx(), "make", cbor_array(i), &o).ok() || !o) {
                    failures.fetch_add(1);
                    continue;
                }
                if (i % 3 == 0) {  // some used once and released synchronously
                    Outcome v = method(o.get(), "add", cbor_array(t));
                    if (as_int(v.value) != i + t) failures.fetch_add(1);
                    Error rel(pyctx_object_release(o.get(), PYCTX_NO_TIMEOUT));
                    if (rel) failures.fetch_add(1);
                } else {
                    kept.push_back(std::move(o));  // freed in bulk below, without waiting
                }
            }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(eval_int(ctx(), "live_count()"), 0);  // the frees' releases ran before this
    EXPECT_TRUE(eventually([&] { return stats_of(ctx()).live_objects == 0; }))
        << stats_of(ctx()).live_objects;
}

TEST_P(ObjectTest, HandlesMadeAndReleasedWhileTheContextClosesNeverCrash) {
    constexpr int kThreads = 4;
    std::atomic<bool> stop{false};
    std::atomic<int> made{0}, unexpected{0}, running{kThreads};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            struct Done {
                std::atomic<int> &n;
                ~Done() { n.fetch_sub(1); }
            } done{running};
            std::vector<Object> kept;
            while (!stop.load()) {
                Object o;
                Made m = make_object(ctx(), "make", cbor_array(1), &o);
                if (!m.ok()) {
                    if (m.status != PYCTX_ERR_CLOSED) unexpected.fetch_add(1);
                    break;  // closed: done
                }
                made.fetch_add(1);
                Outcome v = method(o.get(), "add");
                if (v.error && v.status() != PYCTX_ERR_CLOSED) unexpected.fetch_add(1);
                if (made.load() % 2) kept.push_back(std::move(o));  // freed after the close
            }
        });
    }
    while (made.load() < 2000 && running.load() > 0) std::this_thread::yield();
    EXPECT_GE(made.load(), 2000);
    ASSERT_TRUE(IsOk(pyctx_context_close(ctx(), 10000)));
    stop.store(true);
    for (auto &th : threads) th.join();
    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_EQ(stats_of(ctx()).live_objects, 0u);
}

}  // namespace
