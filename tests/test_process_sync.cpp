// Process contexts, the direct synchronous path: a synchronous caller waits
// on a completion slot of the shared segment that the child fills, instead
// of a completion relayed by the host's io thread. These cases take every
// other way out of a slot: more callers than slots, results too big for a
// slot, a caller that times out and leaves its slot, callers parked on
// their slots when the child dies or the context closes, and a worker
// context's thread (which serves its own queue while it waits) calling in.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/host.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;
using Clock = std::chrono::steady_clock;

static auto *const g_runtime = install_runtime();

namespace {

std::string marker_path(int i) {
    return "/tmp/pyctx-test-sync-" + std::to_string(getpid()) + "-" + std::to_string(i);
}

// Waits (bounded) for the child to say it started the sleeping request.
bool wait_marker(int i) {
    auto until = Clock::now() + std::chrono::seconds(20);
    while (access(marker_path(i).c_str(), F_OK) != 0) {
        if (Clock::now() > until) return false;
        std::this_thread::yield();
    }
    unlink(marker_path(i).c_str());
    return true;
}

const char *kPreload =
    "import os, time\n"
    "def mark_and_sleep(path, seconds):\n"
    "    open(path, 'w').close()\n"
    "    time.sleep(seconds)\n"
    "    return 'slept'\n";

std::string sleeper(int i, int seconds) {
    return "mark_and_sleep('" + marker_path(i) + "', " + std::to_string(seconds) + ")";
}

}  // namespace

TEST(ProcessSync, MoreCallersThanSlotsEachGetTheirOwnAnswer) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    // 72 threads: more than the 64 slots, so some are sent without one.
    constexpr int kThreads = 72, kCalls = 25;
    std::atomic<int> wrong{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kCalls; ++i) {
                int64_t n = t * 1000 + i;
                std::string expr = std::to_string(n) + " * 2";
                Outcome o = eval(ctx.get(), expr.c_str());
                if (!o.ok()) {
                    failed.fetch_add(1);
                } else if (*as_int(o.value) != n * 2) {
                    wrong.fetch_add(1);
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(wrong.load(), 0);
}

TEST(ProcessSync, CallersThatSubmitTogetherAreAllSent) {
    // Callers submit at the same instant, round after round, and nothing is
    // submitted after a round's last request: one that a submitter left to
    // whoever held the send lock is sent only if that holder looks at the
    // queue when it lets go, whatever it held the lock for. A stranded
    // request would time out here.
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    constexpr int kThreads = 6;
    int rounds = 400;  // PYCTX_PROCESS_SYNC_ROUNDS=N for a longer run
    if (const char *env = std::getenv("PYCTX_PROCESS_SYNC_ROUNDS")) rounds = std::atoi(env);
    std::atomic<int> arrived{0}, wrong{0};
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < rounds; ++round) {
                // A spinning barrier: every caller leaves it at once.
                arrived.fetch_add(1);
                while (arrived.load() < (round + 1) * kThreads) {
                }
                int64_t n = round * 100 + t;
                std::string expr = std::to_string(n) + " + 1";
                Outcome o = eval(ctx.get(), expr.c_str(), nullptr, {}, 10000);
                if (!o.ok()) {
                    if (failures[t].empty()) failures[t] = "round " + std::to_string(round) + ": " + o.describe();
                } else if (*as_int(o.value) != n + 1) {
                    wrong.fetch_add(1);
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "caller " << t;
    EXPECT_EQ(wrong.load(), 0);
}

TEST(ProcessSync, ResultsTooBigForASlotTakeTheRing) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx)));
    // Small and big results alternate, so a slot is used, passed over and
    // used again.
    for (int i = 0; i < 20; ++i) {
        size_t n = i % 2 ? 100000 + i : 10 + i;
        std::string expr = "len('x' * " + std::to_string(n) + ")";
        EXPECT_EQ(eval_int(ctx.get(), expr.c_str()), static_cast<int64_t>(n));
        expr = "'y' * " + std::to_string(n);
        Outcome o = eval(ctx.get(), expr.c_str());
        ASSERT_TRUE(o.ok()) << o.describe();
        auto s = as_text(o.value);
        ASSERT_TRUE(s);
        EXPECT_EQ(s->size(), n);
        EXPECT_EQ(s->find_first_not_of('y'), std::string::npos);
    }
}

TEST(ProcessSync, ACallerThatTimesOutLeavesItsSlotAndTheNextCallIsRight) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    for (int i = 0; i < 3; ++i) {
        // The late completion of the timed-out request arrives while the
        // next caller waits on a slot: each must get its own answer.
        std::string code = sleeper(i, 30);
        Outcome o = eval(ctx.get(), code.c_str(), nullptr, {}, 200);
        EXPECT_EQ(o.status(), PYCTX_ERR_TIMEOUT) << o.describe();
        EXPECT_EQ(eval_int(ctx.get(), "40 + 2"), 42);
        unlink(marker_path(i).c_str());
    }
}

TEST(ProcessSync, CallersParkedOnSlotsSeeTheCrashOnce) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    const uint64_t pid = child_pid(ctx.get());
    ASSERT_NE(pid, 0u);
    // One caller runs in the child, three wait behind it in the child's
    // queue: all four wait on slots when the child is killed.
    constexpr int kCallers = 4;
    std::vector<pyctx_status> statuses(kCallers, PYCTX_OK);
    std::vector<std::thread> threads;
    threads.emplace_back([&] { statuses[0] = eval(ctx.get(), sleeper(0, 30).c_str()).status(); });
    ASSERT_TRUE(wait_marker(0));
    for (int t = 1; t < kCallers; ++t)
        threads.emplace_back([&, t] { statuses[t] = eval(ctx.get(), "1").status(); });
    // The queued callers' requests are in the child (or still in the host's
    // queue): either way the kill completes them.
    ASSERT_EQ(kill(static_cast<pid_t>(pid), SIGKILL), 0);
    for (auto &t : threads) t.join();
    for (int t = 0; t < kCallers; ++t) {
        // A queued caller may have been answered before the kill landed.
        if (t > 0 && statuses[t] == PYCTX_OK) continue;
        EXPECT_TRUE(statuses[t] == PYCTX_ERR_CRASHED || statuses[t] == PYCTX_ERR_CLOSED)
            << t << ": " << pyctx_status_name(statuses[t]);
    }
    EXPECT_EQ(statuses[0], PYCTX_ERR_CRASHED);
    EXPECT_EQ(pyctx_context_is_closed(ctx.get()), 1);
}

TEST(ProcessSync, CloseCompletesACallerParkedOnItsSlot) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = kPreload})));
    pyctx_status status = PYCTX_OK;
    std::thread caller([&] { status = eval(ctx.get(), sleeper(0, 30).c_str()).status(); });
    ASSERT_TRUE(wait_marker(0));
    Error e(pyctx_context_close(ctx.get(), 5000));
    caller.join();
    EXPECT_FALSE(e) << describe(e.get());
    EXPECT_EQ(status, PYCTX_ERR_CLOSED) << pyctx_status_name(status);
}

namespace {
pyctx_context_t *g_process_ctx = nullptr;
// A host function a worker context calls: it waits for a process context
// on the worker's own thread.
void host_into_process(void *, pyctx_host_call_t *call) {
    auto args = int_args(call);
    int64_t n = args && !args->empty() ? (*args)[0] : 0;
    std::string expr = std::to_string(n) + " + 1000";
    Outcome o = eval(g_process_ctx, expr.c_str());
    if (!o.ok()) {
        answer_error(call, o.describe().c_str());
        return;
    }
    answer_int(call, *as_int(o.value));
}
}  // namespace

TEST(ProcessSync, AWorkerContextThreadWaitingOnAProcessContext) {
    Context process, worker;
    ASSERT_TRUE(IsOk(create_process_context(process)));
    ASSERT_TRUE(IsOk(create_context(worker, {.mode = PYCTX_MODE_WORKER, .preload = "import pyctx"})));
    g_process_ctx = process.get();
    ASSERT_TRUE(IsOk(pyctx_host_register("into_process", host_into_process, nullptr, nullptr)));
    for (int i = 0; i < 20; ++i) {
        std::string expr = "pyctx.call('into_process', " + std::to_string(i) + ")";
        EXPECT_EQ(eval_int(worker.get(), expr.c_str()), 1000 + i);
    }
    // The direct path still works for an ordinary caller afterwards.
    EXPECT_EQ(eval_int(process.get(), "7 * 6"), 42);
    g_process_ctx = nullptr;
}

// Messages beyond what one ring frame carries (half the 4 MiB ring) fail
// clearly, each in its own direction, and the context goes on serving.
TEST(ProcessLimits, OversizedMessagesFailWithTheirSize) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_process_context(ctx, {.preload = "import pyctx"})));
    // A request: 3 MiB of locals.
    std::string big(3u << 20, 'a');
    Outcome o = eval(ctx.get(), "len(s)", nullptr, cbor_map("s", big));
    ASSERT_EQ(o.status(), PYCTX_ERR_INVALID_ARGUMENT) << o.describe();
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("exceeds what a process context"),
              std::string::npos);
    // A result: 3 MiB of text.
    o = eval(ctx.get(), "'b' * (3 << 20)");
    ASSERT_EQ(o.status(), PYCTX_ERR_ENCODE) << o.describe();
    EXPECT_NE(std::string(pyctx_error_message(o.error.get())).find("exceeds what a process context"),
              std::string::npos);
    // A host call's arguments: raised in the child's Python, caught there.
    ASSERT_TRUE(exec(ctx.get(),
                     "def too_big():\n"
                     "    try:\n"
                     "        pyctx.call('anything', 'c' * (3 << 20))\n"
                     "    except Exception as e:\n"
                     "        return type(e).__name__ + ': ' + str(e)\n")
                    .ok());
    Outcome h = call(ctx.get(), "__main__", "too_big");
    ASSERT_TRUE(h.ok()) << h.describe();
    EXPECT_NE(as_text(h.value).value_or("").find("exceed what a process context carries"),
              std::string::npos)
        << as_text(h.value).value_or("");
    // Still serving, and a result just under the limit still arrives whole.
    EXPECT_EQ(eval_int(ctx.get(), "len('d' * (1 << 20))"), int64_t{1} << 20);
    Outcome near = eval(ctx.get(), "'e' * ((1 << 21) - 4096)");
    ASSERT_TRUE(near.ok()) << near.describe();
    EXPECT_EQ(as_text(near.value).value_or("").size(), (size_t{1} << 21) - 4096);
}
