// The completion guarantee under stress: 8 threads submit ~20k asynchronous
// requests while other threads cancel random ids, some requests carry tiny
// deadlines, and the context is closed mid-stream. Every accepted request
// must complete exactly once (with the id it was given); no refused
// submission may ever complete. Two gates make every round cover all
// outcomes however loaded the machine is: submitters wait halfway until one
// request has completed OK, and at three quarters until the close returned
// (so some submissions are refused).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/runtime_env.h"
#include "support/watchdog.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

constexpr int kSubmitters = 8;
constexpr int kPerSubmitter = 2500; // 20k requests in all
constexpr int kTotal = kSubmitters * kPerSubmitter;
constexpr int kCloseAfter = kTotal / 2;

/** Everything known about one submission slot. */
struct Slot {
    int64_t n = 0;                        // the request computes n * 2
    std::atomic<uint64_t> id{0};          // from the submit call (0: none yet)
    std::atomic<int> submit_status{-1};   // pyctx_status of the submit call
    std::atomic<int> completions{0};      // callback invocations
    std::atomic<uint64_t> completed_id{0};
    std::atomic<int> status{-1};          // status seen by the callback
    std::atomic<bool> value_ok{false};
    std::atomic<bool> cancel_succeeded{false};
};

struct Stress {
    std::unique_ptr<Slot[]> slots{new Slot[kTotal]};
    std::atomic<int> submitted{0};
    Counter completed;
    std::atomic<bool> ok_seen{false};      // one request completed OK
    std::atomic<bool> close_returned{false};
};

/** Blocks until `flag` is set (C++20 atomic wait: no polling, no sleeps). */
void wait_for_flag(const std::atomic<bool> &flag) {
    while (!flag.load()) flag.wait(false);
}

void raise_flag(std::atomic<bool> &flag) {
    flag.store(true);
    flag.notify_all();
}

Stress *g_stress = nullptr;

void on_complete(void *user_data, uint64_t id, pyctx_result_t *raw) {
    Result result(raw);
    auto *slot = static_cast<Slot *>(user_data);
    slot->completed_id.store(id);
    pyctx_status st = pyctx_result_status(result.get());
    slot->status.store(st);
    if (st == PYCTX_OK) {
        size_t len = 0;
        const uint8_t *v = pyctx_result_value(result.get(), &len);
        slot->value_ok.store(v && as_int(v, len) == slot->n * 2);
        if (!g_stress->ok_seen.load()) raise_flag(g_stress->ok_seen);
    }
    slot->completions.fetch_add(1);
    g_stress->completed.add();
}

/** Submits request `i`: a mix of evals, calls and tiny deadlines. */
pyctx_error_t *submit(pyctx_context_t *ctx, int i, Slot &slot, uint64_t *id) {
    Cbor locals = cbor_map("n", slot.n);
    if (i % 64 == 3) // a slower one (~1 ms): queues build up behind it
        return pyctx_eval_async(ctx, "(sum(range(30000)) and n) * 2", nullptr, locals.data(),
                                locals.size(), 0, on_complete, &slot, id);
    switch (i % 8) {
    case 0: // a deadline that often passes while queued or running
        return pyctx_eval_async(ctx, "(sum(range(2000)) and n) * 2", nullptr, locals.data(),
                                locals.size(), 1, on_complete, &slot, id);
    case 1: {
        Cbor args = cbor_array(slot.n, 2);
        return pyctx_call_async(ctx, "operator", "mul", args.data(), args.size(), nullptr, 0, 0,
                                on_complete, &slot, id);
    }
    default:
        return pyctx_eval_async(ctx, "n * 2", nullptr, locals.data(), locals.size(), 0,
                                on_complete, &slot, id);
    }
}

/** One round on a fresh context: submit, cancel, close, then audit. */
void run_round(pyctx_mode mode) {
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, mode)));
    auto stress = std::make_unique<Stress>();
    g_stress = stress.get();
    for (int i = 0; i < kTotal; ++i) stress->slots[i].n = i;

    std::atomic<bool> submitting{true};
    std::atomic<int> close_status{-1};
    std::vector<std::thread> threads;

    for (int t = 0; t < kSubmitters; ++t) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < kPerSubmitter; ++k) {
                if (k == kPerSubmitter / 2) wait_for_flag(stress->ok_seen);
                if (k == kPerSubmitter * 3 / 4) wait_for_flag(stress->close_returned);
                int i = t * kPerSubmitter + k;
                Slot &slot = stress->slots[i];
                uint64_t id = 0;
                Error e(submit(ctx.get(), i, slot, &id));
                slot.submit_status.store(status_of(e.get()));
                if (!e) slot.id.store(id);
                stress->submitted.fetch_add(1);
                if (!e && i % 16 == 5) {
                    // Cancel right away: usually still queued, racing the worker.
                    Error c(pyctx_cancel(ctx.get(), id));
                    pyctx_status st = status_of(c.get());
                    if (st == PYCTX_OK) slot.cancel_succeeded.store(true);
                    else if (st != PYCTX_ERR_NOT_FOUND && st != PYCTX_ERR_CLOSED)
                        ADD_FAILURE() << "cancel: " << describe(c.get());
                }
            }
        });
    }
    // Cancellers: random recent slots, plus ids nobody has.
    for (int c = 0; c < 2; ++c) {
        threads.emplace_back([&, c] {
            std::mt19937 rng(1234 + c);
            while (submitting.load()) {
                int upto = stress->submitted.load();
                if (upto == 0) continue;
                // Recent submissions: most likely still queued or running.
                int window = upto < 256 ? upto : 256;
                Slot &slot = stress->slots[upto - 1 - static_cast<int>(rng() % window)];
                uint64_t id = slot.id.load();
                if (id == 0) continue;
                Error e(pyctx_cancel(ctx.get(), id));
                pyctx_status st = status_of(e.get());
                if (st == PYCTX_OK) slot.cancel_succeeded.store(true);
                else if (st != PYCTX_ERR_NOT_FOUND && st != PYCTX_ERR_CLOSED)
                    ADD_FAILURE() << "cancel: " << describe(e.get());
                Error unknown(pyctx_cancel(ctx.get(), (uint64_t{1} << 62) + rng()));
                st = status_of(unknown.get());
                if (st != PYCTX_ERR_NOT_FOUND && st != PYCTX_ERR_CLOSED)
                    ADD_FAILURE() << "cancel of an unknown id: " << describe(unknown.get());
            }
        });
    }
    // Closer: closes the context between half and three quarters of the
    // submissions, once a request has completed OK.
    threads.emplace_back([&] {
        while (stress->submitted.load() < kCloseAfter) std::this_thread::yield();
        wait_for_flag(stress->ok_seen);
        Error e(pyctx_context_close(ctx.get(), 10000));
        close_status.store(status_of(e.get()));
        raise_flag(stress->close_returned);
    });

    for (int t = 0; t < kSubmitters; ++t) threads[t].join();
    submitting.store(false);
    for (size_t t = kSubmitters; t < threads.size(); ++t) threads[t].join();
    EXPECT_EQ(close_status.load(), PYCTX_OK);

    int accepted = 0, refused = 0;
    for (int i = 0; i < kTotal; ++i) {
        int st = stress->slots[i].submit_status.load();
        if (st == PYCTX_OK) ++accepted;
        else {
            ++refused;
            EXPECT_EQ(st, PYCTX_ERR_CLOSED) << "slot " << i;
        }
    }
    // Close returned: every accepted request has completed (or does so now).
    ASSERT_TRUE(stress->completed.wait_for(accepted))
        << stress->completed.value() << " completions for " << accepted << " accepted";

    int by_status[PYCTX_ERR_INTERNAL + 1] = {};
    int bad = 0;
    for (int i = 0; i < kTotal && bad < 20; ++i) {
        Slot &s = stress->slots[i];
        int completions = s.completions.load();
        if (s.submit_status.load() != PYCTX_OK) {
            if (completions != 0) {
                ++bad;
                ADD_FAILURE() << "refused slot " << i << " completed " << completions << " times";
            }
            continue;
        }
        if (completions != 1) {
            ++bad;
            ADD_FAILURE() << "accepted slot " << i << " completed " << completions << " times";
            continue;
        }
        int st = s.status.load();
        by_status[st]++;
        EXPECT_EQ(s.completed_id.load(), s.id.load()) << "slot " << i;
        EXPECT_TRUE(st == PYCTX_OK || st == PYCTX_ERR_CANCELLED || st == PYCTX_ERR_TIMEOUT ||
                    st == PYCTX_ERR_CLOSED)
            << "slot " << i << ": " << pyctx_status_name(static_cast<pyctx_status>(st));
        if (st == PYCTX_OK) {
            EXPECT_TRUE(s.value_ok.load()) << "slot " << i << " wrong value";
        }
        if (s.cancel_succeeded.load()) {
            EXPECT_EQ(st, PYCTX_ERR_CANCELLED) << "slot " << i << ": cancel said OK";
        }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_GT(by_status[PYCTX_OK], 0);
    EXPECT_GT(accepted, 0);
    EXPECT_GT(refused, 0) << "the close landed after every submission";

    // The counters agree with what the callbacks saw.
    pyctx_context_stats_t s = stats_of(ctx.get());
    EXPECT_EQ(s.completed, static_cast<uint64_t>(by_status[PYCTX_OK]));
    EXPECT_EQ(s.cancelled, static_cast<uint64_t>(by_status[PYCTX_ERR_CANCELLED]));
    EXPECT_EQ(s.timed_out, static_cast<uint64_t>(by_status[PYCTX_ERR_TIMEOUT]));
    EXPECT_EQ(s.closed, static_cast<uint64_t>(by_status[PYCTX_ERR_CLOSED]));
    EXPECT_EQ(s.failed, 0u);
    std::printf("%s: %d accepted (ok %d, cancelled %d, timeout %d, closed %d), %d refused\n",
                mode_name(mode), accepted, by_status[PYCTX_OK], by_status[PYCTX_ERR_CANCELLED],
                by_status[PYCTX_ERR_TIMEOUT], by_status[PYCTX_ERR_CLOSED], refused);

    ctx.reset();
    g_stress = nullptr;
}

} // namespace

class ExactlyOnceTest : public ModeTest {};

TEST_P(ExactlyOnceTest, EveryAcceptedRequestCompletesExactlyOnce) {
    Watchdog guard(std::chrono::seconds(60));
    // A few rounds: the close lands at a different point each time.
    for (int round = 0; round < 3 && !HasFatalFailure(); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        run_round(mode());
    }
}

PYCTX_INSTANTIATE_FOR_BOTH_MODES(ExactlyOnceTest);
