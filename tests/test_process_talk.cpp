// Process contexts, step 2: cancel and per-request timeouts interrupt the
// child's running request; host functions called from the child's Python
// (pyctx.call, await pyctx.async_call), answered on any thread, re-entrant;
// coroutines on the child's asyncio loop.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/collector.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/host.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

std::string marker_path() { return "/tmp/pyctx-test-talk-" + std::to_string(getpid()); }

bool wait_marker() {
    auto until = Clock::now() + std::chrono::seconds(20);
    while (access(marker_path().c_str(), F_OK) != 0) {
        if (Clock::now() > until) return false;
        std::this_thread::yield();
    }
    unlink(marker_path().c_str());
    return true;
}

std::string preload() {
    return "import asyncio, pyctx, time\n"
           "def started():\n"
           "    open('" + marker_path() + "', 'w').close()\n"
           "def slow():\n"
           "    started()\n"
           "    time.sleep(30)\n"
           "    return 'not interrupted'\n";
}

// Host functions: `double` answers inline; `later` from another thread;
// `reenter` calls back into the context that called it.
void host_double(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    answer_int(call, args && !args->empty() ? (*args)[0] * 2 : -1);
}
void host_later(void *, pyctx_host_call_t *call) {
    std::thread([call] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto args = int_args(call);
        answer_int(call, args && !args->empty() ? (*args)[0] + 100 : -1);
    }).detach();
}
pyctx_context_t *g_reenter_ctx = nullptr;
void host_reenter(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    int64_t n = args && !args->empty() ? (*args)[0] : 0;
    // Back into the same process context, while its Python waits for us.
    std::string expr = "double_via_host(" + std::to_string(n) + ") + 1";
    Outcome o = eval(g_reenter_ctx, expr.c_str());
    if (!o.ok()) {
        answer_error(call, o.describe().c_str());
        return;
    }
    answer_int(call, *as_int(o.value) * 10);
}

class ProcessTalk : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_TRUE(IsOk(pyctx_host_register("double", host_double, nullptr, nullptr)));
        ASSERT_TRUE(IsOk(pyctx_host_register("later", host_later, nullptr, nullptr)));
        ASSERT_TRUE(IsOk(pyctx_host_register("reenter", host_reenter, nullptr, nullptr)));
    }
    void SetUp() override {
        // A request of an earlier test that called started() (a timed-out
        // slow(), say) leaves its marker behind: never taken for this one's.
        unlink(marker_path().c_str());
        std::string p = preload() + "def double_via_host(n):\n    return pyctx.call('double', n)\n";
        ASSERT_TRUE(IsOk(create_process_context(ctx_, {.preload = p.c_str()})));
    }
    Context ctx_;
};

}  // namespace

TEST_F(ProcessTalk, TimeoutInterruptsTheRunningRequest) {
    Outcome o = call(ctx_.get(), "__main__", "slow", {}, {}, 300);
    EXPECT_EQ(o.status(), PYCTX_ERR_TIMEOUT) << o.describe();
    // The child was interrupted: it answers at once, not after 30 s.
    Outcome next = eval(ctx_.get(), "'served'", nullptr, {}, 10000);
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(as_text(next.value), "served");
    EXPECT_EQ(stats_of(ctx_.get()).timed_out, 1u);
}

TEST_F(ProcessTalk, CancelInterruptsTheRunningRequestAndSkipsQueuedOnes) {
    Collector collector;
    uint64_t running = 0, queued = 0;
    ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "slow", nullptr, 0, nullptr, 0,
                                      PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(),
                                      &running)));
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx_.get(), "ran_queued = True", nullptr, PYCTX_NO_TIMEOUT,
                                      collector.fn(), collector.user_data(), &queued)));
    ASSERT_TRUE(wait_marker());
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), queued)));
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), running)));
    ASSERT_TRUE(collector.wait_for(2));
    EXPECT_EQ(collector.find(running)->status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(collector.find(queued)->status, PYCTX_ERR_CANCELLED);
    EXPECT_EQ(eval_bool(ctx_.get(), "'ran_queued' in globals()"), false);
    EXPECT_EQ(collector.duplicates(), 0u);
}

TEST_F(ProcessTalk, HostFunctionsAnsweredInlineAndFromAnotherThread) {
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('double', 21)"), 42);
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('later', 1)"), 101);
    Outcome o = eval(ctx_.get(), "pyctx.call('no_such_function')");
    ASSERT_EQ(o.status(), PYCTX_ERR_PYTHON);
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("no_such_function"),
              std::string::npos);
}

TEST_F(ProcessTalk, HostFunctionCallsBackIntoTheSameContext) {
    g_reenter_ctx = ctx_.get();
    // Python -> host `reenter` -> eval in this context -> host `double`.
    EXPECT_EQ(eval_int(ctx_.get(), "pyctx.call('reenter', 4)"), (4 * 2 + 1) * 10);
}

TEST_F(ProcessTalk, CoroutinesRunOnTheChildsLoop) {
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def co(x):\n"
                     "    await asyncio.sleep(0.01)\n"
                     "    y = await pyctx.async_call('later', x)\n"
                     "    return y + await pyctx.async_call('double', x)\n")
                    .ok());
    Outcome o = call(ctx_.get(), "__main__", "co", cbor_array(1));
    ASSERT_TRUE(o.ok()) << o.describe();
    EXPECT_EQ(as_int(o.value), 101 + 2);
    // Many awaiting at once share the one child.
    Collector collector;
    constexpr int kN = 200;
    for (int i = 0; i < kN; ++i) {
        Cbor args = cbor_array(i);
        ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "co", args.data(), args.size(),
                                          nullptr, 0, PYCTX_NO_TIMEOUT, collector.fn(),
                                          collector.user_data(), nullptr)));
    }
    ASSERT_TRUE(collector.wait_for(kN));
    int64_t sum = 0;
    for (const Completion &c : collector.all()) {
        ASSERT_EQ(c.status, PYCTX_OK) << c.message;
        sum += *as_int(c.value.data(), c.value.size());
    }
    EXPECT_EQ(sum, int64_t{kN} * 100 + int64_t{3} * kN * (kN - 1) / 2);
}

TEST_F(ProcessTalk, CancelledCoroutineIsCancelledInTheChild) {
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def forever():\n"
                     "    global was_cancelled\n"
                     "    started()\n"
                     "    try:\n"
                     "        await asyncio.sleep(3600)\n"
                     "    except asyncio.CancelledError:\n"
                     "        was_cancelled = True\n"
                     "        raise\n")
                    .ok());
    Collector collector;
    uint64_t id = 0;
    ASSERT_TRUE(IsOk(pyctx_call_async(ctx_.get(), "__main__", "forever", nullptr, 0, nullptr, 0,
                                      PYCTX_NO_TIMEOUT, collector.fn(), collector.user_data(), &id)));
    ASSERT_TRUE(wait_marker());
    ASSERT_TRUE(IsOk(pyctx_cancel(ctx_.get(), id)));
    ASSERT_TRUE(collector.wait_for(1));
    EXPECT_EQ(collector.all()[0].status, PYCTX_ERR_CANCELLED);
    // The task saw its CancelledError (the context kept serving meanwhile).
    auto until = Clock::now() + std::chrono::seconds(10);
    bool seen = false;
    while (!seen && Clock::now() < until) seen = eval_bool(ctx_.get(), "'was_cancelled' in globals()").value_or(false);
    EXPECT_TRUE(seen);
}

TEST_F(ProcessTalk, CancelsRacingCompletionsCompleteEachRequestOnce) {
    Collector collector;
    constexpr int kN = 300;
    std::vector<uint64_t> ids(kN);
    for (int i = 0; i < kN; ++i) {
        ASSERT_TRUE(IsOk(pyctx_eval_async(ctx_.get(), "time.sleep(0.0005) or 1", nullptr, nullptr,
                                          0, PYCTX_NO_TIMEOUT, collector.fn(),
                                          collector.user_data(), &ids[i])));
    }
    // Cancel every other one from another thread while the child works
    // through them: some are queued here, some in the child, one running.
    std::thread canceller([&] {
        for (int i = 0; i < kN; i += 2) {
            Error e(pyctx_cancel(ctx_.get(), ids[i]));
            (void)e;  // not_found when it completed first
        }
    });
    canceller.join();
    ASSERT_TRUE(collector.wait_for(kN));
    EXPECT_EQ(collector.duplicates(), 0u);
    EXPECT_EQ(collector.count(), static_cast<size_t>(kN));
    for (const Completion &c : collector.all())
        EXPECT_TRUE(c.status == PYCTX_OK || c.status == PYCTX_ERR_CANCELLED) << c.message;
    EXPECT_EQ(eval_int(ctx_.get(), "3"), 3);
}

TEST_F(ProcessTalk, AnUnregisteredHostFunctionRaisesLookupErrorNamingIt) {
    // As in worker and owngil contexts: LookupError, not pyctx.HostError.
    Outcome o = eval(ctx_.get(), "pyctx.call('never_registered_here', 1)");
    EXPECT_TRUE(RaisesPython(o.error.get(), "LookupError")) << o.describe();
    EXPECT_NE(std::string(o.error ? pyctx_error_message(o.error.get()) : "")
                  .find("never_registered_here"),
              std::string::npos);
    // And awaited.
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def missing():\n"
                     "    try:\n"
                     "        await pyctx.async_call('never_registered_either')\n"
                     "    except LookupError as e:\n"
                     "        return 'lookup: ' + str(e)\n")
                    .ok());
    Outcome a = call(ctx_.get(), "__main__", "missing");
    ASSERT_TRUE(a.ok()) << a.describe();
    EXPECT_NE(as_text(a.value).value_or("").find("never_registered_either"), std::string::npos);
}

namespace {
struct Received {
    std::mutex mu;
    std::vector<std::string> items;  // "<context>:<target diag>:<value diag>"
};
int receive(void *user_data, const char *context_name, const uint8_t *target, size_t target_len,
            const uint8_t *value, size_t value_len) {
    auto *r = static_cast<Received *>(user_data);
    std::lock_guard lock(r->mu);
    r->items.push_back(std::string(context_name) + ":" + diag(target, target_len) + ":" +
                       diag(value, value_len));
    return 0;
}
int refuse(void *, const char *, const uint8_t *, size_t, const uint8_t *, size_t) { return 1; }
}  // namespace

// The shared store is the host process's: a child's pyctx.store_* crosses to
// the host and acts there, so the host, a worker context and the child all
// see one store (a child that used its own empty copy would lose every write
// silently).
TEST_F(ProcessTalk, TheChildUsesTheHostsStore) {
    const std::string key = "process-talk-" + std::to_string(getpid());
    const std::string k = "'" + key + "'";
    Bytes stored;
    // Child writes, host reads.
    Outcome put = eval(ctx_.get(), ("pyctx.store_put(" + k + ", {'n': 5, 'xs': [1, 2]})").c_str());
    ASSERT_TRUE(put.ok()) << put.describe();
    uint64_t version = 0;
    ASSERT_TRUE(IsOk(pyctx_store_get(key.c_str(), stored.out(), &version)));
    EXPECT_EQ(*as_int(put.value), static_cast<int64_t>(version));
    EXPECT_EQ(diag(stored), diag(cbor_map("n", 5, "xs", RawCbor{cbor_array(1, 2)})));
    // Host writes, child reads: value, entry and a default for a missing key.
    Cbor seven = cbor_value(7);
    uint64_t v2 = 0;
    ASSERT_TRUE(IsOk(pyctx_store_put(key.c_str(), seven.data(), seven.size(), &v2)));
    EXPECT_EQ(eval_int(ctx_.get(), ("pyctx.store_get(" + k + ")").c_str()), 7);
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_entry(" + k + "))").c_str()),
              "(7, " + std::to_string(v2) + ")");
    EXPECT_EQ(eval_text(ctx_.get(), ("pyctx.store_get(" + k + " + '-none', 'dflt')").c_str()),
              "dflt");
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_entry(" + k + " + '-none'))").c_str()),
              "None");
    // Compare-and-swap: a stale version loses, the current one wins.
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_cas(" + k + ", " + std::to_string(version) +
                                     ", 8))").c_str()),
              "None");
    Outcome won = eval(ctx_.get(), ("pyctx.store_cas(" + k + ", " + std::to_string(v2) + ", 9)").c_str());
    ASSERT_TRUE(won.ok()) << won.describe();
    uint64_t v3 = 0;
    ASSERT_TRUE(IsOk(pyctx_store_get(key.c_str(), stored.out(), &v3)));
    EXPECT_EQ(as_int(stored), 9);
    EXPECT_EQ(*as_int(won.value), static_cast<int64_t>(v3));
    // Keys by prefix, then delete (with a stale version first).
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_keys(" + k + "))").c_str()), "['" + key + "']");
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_delete(" + k + ", " + std::to_string(v2) +
                                     "))").c_str()),
              "False");
    EXPECT_EQ(eval_text(ctx_.get(), ("repr(pyctx.store_delete(" + k + "))").c_str()), "True");
    EXPECT_TRUE(FailsWith(pyctx_store_get(key.c_str(), stored.out(), nullptr), PYCTX_ERR_NOT_FOUND));
    // Bad input is refused in the child, with the in-process errors.
    EXPECT_TRUE(RaisesPython(eval(ctx_.get(), "pyctx.store_put(1, 2)").error.get(), "TypeError"));
    EXPECT_TRUE(RaisesPython(eval(ctx_.get(), "pyctx.store_put('k', object())").error.get(),
                             "TypeError"));
    // A worker context reads what the child wrote.
    ASSERT_TRUE(exec(ctx_.get(), ("pyctx.store_put(" + k + ", 'from-child')").c_str()).ok());
    Context worker;
    ASSERT_TRUE(IsOk(create_context(worker, PYCTX_MODE_WORKER)));
    EXPECT_EQ(eval_text(worker.get(), ("__import__('pyctx').store_get(" + k + ")").c_str()),
              "from-child");
    EXPECT_TRUE(IsOk(pyctx_store_delete(key.c_str(), 0, nullptr)));
}

// A Python thread of the child's own gets its host calls answered even
// while the context thread is busy: here the request joins that thread,
// so only the thread itself can read its answers from the ring. Store
// calls, sends and a registered host function, many times over, with an
// async request (which the thread's reads must keep for the context
// thread, in order) queued behind.
TEST_F(ProcessTalk, HostCallsFromTheChildsOwnThreadsAreAnsweredWhileItsContextThreadIsBusy) {
    const std::string key = "process-talk-thread-" + std::to_string(getpid());
    Received inbox;
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("process-talk-thread-inbox", receive, &inbox, nullptr)));
    const std::string code =
        "import threading\n"
        "results = []\n"
        "def work():\n"
        "    for i in range(200):\n"
        "        pyctx.store_put('" + key + "', i)\n"
        "        pyctx.send('process-talk-thread-inbox', i)\n"
        "        results.append(pyctx.call('double', i))\n"
        "t = threading.Thread(target=work)\n"
        "t.start(); t.join()\n"
        "total = sum(results)\n";
    Collector done;
    uint64_t ran = 0, behind = 0;
    ASSERT_TRUE(IsOk(pyctx_exec_async(ctx_.get(), code.c_str(), nullptr, 20000, done.fn(),
                                      done.user_data(), &ran)));
    ASSERT_TRUE(IsOk(pyctx_eval_async(ctx_.get(), "6 * 7", nullptr, nullptr, 0, PYCTX_NO_TIMEOUT,
                                      done.fn(), done.user_data(), &behind)));
    ASSERT_TRUE(done.wait_for(2));
    ASSERT_EQ(done.find(ran)->status, PYCTX_OK) << done.find(ran)->message;
    ASSERT_EQ(done.find(behind)->status, PYCTX_OK) << done.find(behind)->message;
    EXPECT_EQ(as_int(done.find(behind)->value), 42);
    EXPECT_EQ(eval_int(ctx_.get(), "total"), 2 * (199 * 200 / 2));
    Bytes stored;
    ASSERT_TRUE(IsOk(pyctx_store_get(key.c_str(), stored.out(), nullptr)));
    EXPECT_EQ(as_int(stored), 199);
    {
        std::lock_guard lock(inbox.mu);
        ASSERT_EQ(inbox.items.size(), 200u);
        EXPECT_EQ(inbox.items.back().substr(inbox.items.back().rfind(':') + 1), "199");
    }
    EXPECT_TRUE(IsOk(pyctx_store_delete(key.c_str(), 0, nullptr)));
    EXPECT_TRUE(IsOk(pyctx_endpoint_unregister("process-talk-thread-inbox")));
}

// `await pyctx.async_call` on a loop of the user's own (asyncio.run inside
// a request): that loop never reads the child's ring, so a watcher thread
// does. `later` answers from another host thread after a while, so the
// answer always arrives while the loop waits.
TEST_F(ProcessTalk, AsyncCallsOnAUsersOwnLoopAreAnswered) {
    ASSERT_TRUE(exec(ctx_.get(),
                     "async def twice():\n"
                     "    a = await pyctx.async_call('later', 1)\n"
                     "    b, c = await asyncio.gather(pyctx.async_call('later', 2),\n"
                     "                                pyctx.async_call('double', 3))\n"
                     "    return [a, b, c]\n")
                    .ok());
    for (int round = 0; round < 3; ++round) {
        Outcome o = eval(ctx_.get(), "asyncio.run(twice())", nullptr, {}, 20000);
        ASSERT_TRUE(o.ok()) << o.describe();
        EXPECT_EQ(as_int_list(o.value), (std::vector<int64_t>{101, 102, 6}));
    }
}

// Concurrent compare-and-swap increments from two process children and the
// host lose no update: each child's cas acts on the host's one entry.
TEST_F(ProcessTalk, CompareAndSwapFromChildrenLosesNoUpdate) {
    const std::string key = "process-talk-counter-" + std::to_string(getpid());
    Cbor zero = cbor_value(0);
    ASSERT_TRUE(IsOk(pyctx_store_put(key.c_str(), zero.data(), zero.size(), nullptr)));
    const std::string incr =
        "def incr(key, n):\n"
        "    for _ in range(n):\n"
        "        while True:\n"
        "            value, version = pyctx.store_entry(key)\n"
        "            if pyctx.store_cas(key, version, value + 1) is not None:\n"
        "                break\n"
        "    return n\n";
    Context other;
    ASSERT_TRUE(IsOk(create_process_context(other, {})));
    ASSERT_TRUE(exec(ctx_.get(), ("import pyctx\n" + incr).c_str()).ok());
    ASSERT_TRUE(exec(other.get(), ("import pyctx\n" + incr).c_str()).ok());
    constexpr int kEach = 300;
    Collector done;
    Cbor args = cbor_array(key, kEach);
    for (pyctx_context_t *c : {ctx_.get(), other.get()})
        ASSERT_TRUE(IsOk(pyctx_call_async(c, "__main__", "incr", args.data(), args.size(), nullptr, 0,
                                          PYCTX_NO_TIMEOUT, done.fn(), done.user_data(), nullptr)));
    for (int i = 0; i < kEach; ++i) {  // the host increments too, meanwhile
        for (;;) {
            Bytes cur;
            uint64_t version = 0;
            ASSERT_TRUE(IsOk(pyctx_store_get(key.c_str(), cur.out(), &version)));
            Cbor next = cbor_value(*as_int(cur) + 1);
            int swapped = 0;
            ASSERT_TRUE(IsOk(pyctx_store_cas(key.c_str(), version, next.data(), next.size(), &swapped,
                                             nullptr)));
            if (swapped) break;
        }
    }
    ASSERT_TRUE(done.wait_for(2));
    for (const Completion &r : done.all()) EXPECT_EQ(r.status, PYCTX_OK) << r.message;
    Bytes total;
    ASSERT_TRUE(IsOk(pyctx_store_get(key.c_str(), total.out(), nullptr)));
    EXPECT_EQ(as_int(total), 3 * kEach);
    EXPECT_TRUE(IsOk(pyctx_store_delete(key.c_str(), 0, nullptr)));
}


// pyctx.send from a child reaches the host's endpoints and router, in the
// order sent, naming the context; unknown or gone targets raise SendError
// (or give False with missing_ok), as in the other modes.
TEST_F(ProcessTalk, SendFromTheChildReachesTheHostInOrder) {
    Received named, routed;
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("process-talk-inbox", receive, &named, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_endpoint_register("process-talk-gone", refuse, nullptr, nullptr)));
    ASSERT_TRUE(IsOk(pyctx_send_set_router(receive, &routed, nullptr)));
    Outcome sent = eval(ctx_.get(),
                        "[pyctx.send('process-talk-inbox', i) for i in range(200)] + "
                        "[pyctx.send(pyctx.Symbol('reg'), 'x')]");
    ASSERT_TRUE(sent.ok()) << sent.describe();
    EXPECT_EQ(diag(sent.value).find("false"), std::string::npos);
    {
        std::lock_guard lock(named.mu);
        ASSERT_EQ(named.items.size(), 200u);
        const std::string name = pyctx_context_name(ctx_.get());
        for (int i = 0; i < 200; ++i)
            EXPECT_EQ(named.items[i], name + ":\"process-talk-inbox\":" + std::to_string(i));
        std::lock_guard lock2(routed.mu);
        ASSERT_EQ(routed.items.size(), 1u);
        EXPECT_NE(routed.items[0].find(":\"x\""), std::string::npos) << routed.items[0];
    }
    Outcome unknown = eval(ctx_.get(), "pyctx.send('process-talk-nobody', 1)");
    EXPECT_TRUE(RaisesPython(unknown.error.get(), "pyctx.SendError")) << unknown.describe();
    EXPECT_NE(unknown.describe().find("process-talk-nobody"), std::string::npos);
    EXPECT_TRUE(RaisesPython(eval(ctx_.get(), "pyctx.send('process-talk-gone', 1)").error.get(),
                             "pyctx.SendError"));
    EXPECT_EQ(eval_text(ctx_.get(), "repr(pyctx.send('process-talk-nobody', 1, missing_ok=True))"),
              "False");
    EXPECT_TRUE(IsOk(pyctx_endpoint_unregister("process-talk-inbox")));
    EXPECT_TRUE(IsOk(pyctx_endpoint_unregister("process-talk-gone")));
    EXPECT_TRUE(IsOk(pyctx_send_set_router(nullptr, nullptr, nullptr)));
}
