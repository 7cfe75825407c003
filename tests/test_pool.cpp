// Pools (pyctx.h "Pools"): routing (round robin spreads evenly, least
// queued avoids a busy member, the parked/busy signals), key affinity and
// the keys a resize moves (reported), resize up and down under load with
// every request completing exactly once, member close -> replacement (and
// the leave policy; a process member killed mid-stream), cancel by id on the pool, the queue bound, envs made
// through a pool, timeouts, pool close with requests in flight, and a mix of
// all of it at once.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/gate.h"
#include "support/eventually.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct PoolSpec {
    size_t size = 2;
    pyctx_pool_routing routing = PYCTX_POOL_LEAST_QUEUED;
    pyctx_pool_replace replace = PYCTX_POOL_REPLACE;
    size_t queue_bound = 0;
    pyctx_mode mode = PYCTX_MODE_WORKER;
    const char *preload = nullptr;
    const char *name = nullptr;
};

Pool make_pool(const PoolSpec &spec) {
    PoolOptions o(pyctx_pool_options_new());
    ContextOptions member(pyctx_context_options_new());
    EXPECT_TRUE(IsOk(pyctx_context_options_set_mode(member.get(), spec.mode)));
    if (spec.preload) EXPECT_TRUE(IsOk(pyctx_context_options_set_preload(member.get(), spec.preload)));
    EXPECT_TRUE(IsOk(pyctx_pool_options_set_member_options(o.get(), member.get())));
    EXPECT_TRUE(IsOk(pyctx_pool_options_set_size(o.get(), spec.size)));
    EXPECT_TRUE(IsOk(pyctx_pool_options_set_routing(o.get(), spec.routing)));
    EXPECT_TRUE(IsOk(pyctx_pool_options_set_replace(o.get(), spec.replace)));
    EXPECT_TRUE(IsOk(pyctx_pool_options_set_queue_bound(o.get(), spec.queue_bound)));
    if (spec.name) EXPECT_TRUE(IsOk(pyctx_pool_options_set_name(o.get(), spec.name)));
    pyctx_pool_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_pool_create(o.get(), &raw)));
    return Pool(raw);
}

Context member(pyctx_pool_t *pool, size_t i) {
    pyctx_context_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_pool_member_context(pool, i, &raw)));
    return Context(raw);
}

pyctx_pool_member_stats_t member_stats(pyctx_pool_t *pool, size_t i) {
    pyctx_pool_member_stats_t s{};
    EXPECT_TRUE(IsOk(pyctx_pool_member_stats(pool, i, &s, sizeof s)));
    return s;
}

pyctx_pool_stats_t pool_stats(pyctx_pool_t *pool) {
    pyctx_pool_stats_t s{};
    EXPECT_TRUE(IsOk(pyctx_pool_stats(pool, &s, sizeof s)));
    return s;
}

// Counts completions per request id, from any thread.
class Tally {
public:
    static void on_complete(void *self, uint64_t id, pyctx_result_t *raw) {
        Result r(raw);
        auto *t = static_cast<Tally *>(self);
        std::lock_guard lock(t->mu_);
        ++t->count_[id];
        ++t->by_status_[pyctx_result_status(r.get())];
        ++t->total_;
        t->cv_.notify_all();
    }
    bool wait_for(size_t n, std::chrono::seconds bound = std::chrono::seconds(30)) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, bound, [&] { return total_ >= n; });
    }
    size_t total() {
        std::lock_guard lock(mu_);
        return total_;
    }
    size_t with(pyctx_status s) {
        std::lock_guard lock(mu_);
        return by_status_[s];
    }
    int count(uint64_t id) {
        std::lock_guard lock(mu_);
        return count_.count(id) ? count_[id] : 0;
    }
    // Every accepted id exactly once, nothing else.
    ::testing::AssertionResult exactly_once(const std::set<uint64_t> &accepted) {
        std::lock_guard lock(mu_);
        for (uint64_t id : accepted)
            if (count_[id] != 1)
                return ::testing::AssertionFailure() << "request " << id << " completed " << count_[id] << " times";
        for (auto &[id, n] : count_)
            if (!accepted.count(id)) return ::testing::AssertionFailure() << "unknown request " << id << " completed";
        return ::testing::AssertionSuccess();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<uint64_t, int> count_;
    std::map<pyctx_status, size_t> by_status_;
    size_t total_ = 0;
};

pyctx_error_t *add_async(pyctx_pool_t *pool, Tally &t, uint64_t *id, uint32_t timeout_ms = 0) {
    static const Cbor args = cbor_array(1, 2);
    return pyctx_pool_call_async(pool, "operator", "add", args.data(), args.size(), nullptr, 0,
                                 timeout_ms, &Tally::on_complete, &t, id);
}

// Starts `code` on member `i` directly (its handle), so a test knows where it runs.
uint64_t start_on_member(pyctx_pool_t *pool, size_t i, const std::string &code, Tally &t) {
    Context m = member(pool, i);
    uint64_t id = 0;
    EXPECT_TRUE(IsOk(pyctx_exec_async(m.get(), code.c_str(), nullptr, PYCTX_NO_TIMEOUT,
                                      &Tally::on_complete, &t, &id)));
    return id;
}

Request pool_request(pyctx_pool_t *pool) {
    pyctx_request_t *raw = nullptr;
    EXPECT_TRUE(IsOk(pyctx_request_new(&raw)));
    EXPECT_TRUE(IsOk(pyctx_request_set_pool(raw, pool)));
    return Request(raw);
}

}  // namespace

// ---- options and bad input ---------------------------------------------------

TEST(Pool, BadInputGetsClearErrors) {
    PoolOptions o(pyctx_pool_options_new());
    EXPECT_TRUE(FailsWith(pyctx_pool_options_set_size(o.get(), 0), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_options_set_size(o.get(), PYCTX_POOL_MAX_SIZE + 1),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_options_set_routing(o.get(), static_cast<pyctx_pool_routing>(7)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_options_set_replace(o.get(), static_cast<pyctx_pool_replace>(9)),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_options_set_member_options(o.get(), nullptr),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_create(o.get(), nullptr), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_cancel(nullptr, 1), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_EQ(pyctx_pool_size(nullptr), 0u);
    EXPECT_EQ(pyctx_pool_is_closed(nullptr), 1);
    EXPECT_STREQ(pyctx_pool_name(nullptr), "");
    pyctx_pool_free(nullptr);

    Pool pool = make_pool({.size = 1, .name = "bad-input"});
    EXPECT_STREQ(pyctx_pool_name(pool.get()), "bad-input");
    EXPECT_TRUE(FailsWith(pyctx_pool_resize(pool.get(), 0, 0), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_cancel(pool.get(), 0), PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_pool_cancel(pool.get(), 123456), PYCTX_ERR_NOT_FOUND));
    pyctx_context_t *ctx = nullptr;
    EXPECT_TRUE(FailsWith(pyctx_pool_member_context(pool.get(), 1, &ctx), PYCTX_ERR_NOT_FOUND));
    pyctx_pool_member_stats_t ms;
    EXPECT_TRUE(FailsWith(pyctx_pool_member_stats(pool.get(), 5, &ms, sizeof ms), PYCTX_ERR_NOT_FOUND));
}

TEST(Pool, APreloadThatRaisesFailsCreateNamingTheMember) {
    PoolOptions o(pyctx_pool_options_new());
    ContextOptions m(pyctx_context_options_new());
    ASSERT_TRUE(IsOk(pyctx_context_options_set_preload(m.get(), "raise ValueError('no')")));
    ASSERT_TRUE(IsOk(pyctx_pool_options_set_member_options(o.get(), m.get())));
    ASSERT_TRUE(IsOk(pyctx_pool_options_set_size(o.get(), 2)));
    pyctx_pool_t *raw = nullptr;
    Error e(pyctx_pool_create(o.get(), &raw));
    ASSERT_TRUE(RaisesPython(e.get(), "ValueError"));
    EXPECT_NE(std::string(pyctx_error_message(e.get())).find("member"), std::string::npos);
    EXPECT_EQ(raw, nullptr);
}

TEST(Pool, MembersShareThePreloadAndNames) {
    Pool pool = make_pool({.size = 3, .preload = "MAGIC = 7", .name = "named"});
    ASSERT_EQ(pyctx_pool_size(pool.get()), 3u);
    std::set<std::string> names;
    for (size_t i = 0; i < 3; ++i) {
        Context m = member(pool.get(), i);
        names.insert(pyctx_context_name(m.get()));
        Bytes out;
        ASSERT_TRUE(IsOk(pyctx_eval(m.get(), "MAGIC", nullptr, nullptr, 0, 0, out.out())));
        EXPECT_EQ(as_int(out), 7);
    }
    EXPECT_EQ(names, (std::set<std::string>{"named-1", "named-2", "named-3"}));
}

// ---- routing -------------------------------------------------------------------

TEST(Pool, RoundRobinSpreadsEvenly) {
    Pool pool = make_pool({.size = 4, .routing = PYCTX_POOL_ROUND_ROBIN});
    Cbor args = cbor_array(20, 22);
    for (int i = 0; i < 400; ++i) {
        Bytes out;
        ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "add", args.data(), args.size(),
                                         nullptr, 0, 0, out.out())));
        ASSERT_EQ(as_int(out), 42);
    }
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(member_stats(pool.get(), i).completed, 100u) << i;
    EXPECT_EQ(pool_stats(pool.get()).completed, 400u);
}

TEST(Pool, LeastQueuedAvoidsABusyMember) {
    Pool pool = make_pool({.size = 2});
    Gate gate;
    ASSERT_TRUE(gate.valid());
    Tally t;
    start_on_member(pool.get(), 0, gate.py_block(), t);
    ASSERT_TRUE(gate.wait_started());
    EXPECT_EQ(member_stats(pool.get(), 0).busy, 1u);
    Cbor args = cbor_array(1, 1);
    for (int i = 0; i < 50; ++i) {
        Bytes out;
        ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "add", args.data(), args.size(),
                                         nullptr, 0, 0, out.out())));
    }
    EXPECT_EQ(member_stats(pool.get(), 1).completed, 50u);
    EXPECT_EQ(member_stats(pool.get(), 0).completed, 0u);
    gate.release();
    ASSERT_TRUE(t.wait_for(1));
    EXPECT_EQ(t.with(PYCTX_OK), 1u);
}

TEST(Pool, IdleMembersReportParkedAndRoutingStillReachesThem) {
    Pool pool = make_pool({.size = 2});
    // An idle member spins briefly, then parks: the signal the router reads.
    ASSERT_TRUE(eventually([&] {
        return member_stats(pool.get(), 0).parked == 1 && member_stats(pool.get(), 1).parked == 1;
    }));
    EXPECT_EQ(member_stats(pool.get(), 0).busy, 0u);
    // Both parked and idle: the calls are served (ties go to the member
    // chosen last, which spins after each call and is then preferred).
    Cbor args = cbor_array(1, 1);
    for (int i = 0; i < 20; ++i) {
        Bytes out;
        ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "add", args.data(), args.size(),
                                         nullptr, 0, 0, out.out())));
    }
    EXPECT_EQ(member_stats(pool.get(), 0).completed + member_stats(pool.get(), 1).completed, 20u);
}

TEST(Pool, OwngilMembersRunInTurn) {
    if (!pyctx_owngil_supported()) GTEST_SKIP() << "owngil needs Python 3.12+";
    Pool pool = make_pool({.size = 2, .routing = PYCTX_POOL_ROUND_ROBIN, .mode = PYCTX_MODE_OWNGIL});
    Cbor args = cbor_array(2, 3);
    for (int i = 0; i < 10; ++i) {
        Bytes out;
        ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "mul", args.data(), args.size(),
                                         nullptr, 0, 0, out.out())));
        EXPECT_EQ(as_int(out), 6);
    }
    Context m = member(pool.get(), 0);
    EXPECT_EQ(pyctx_context_mode(m.get()), PYCTX_MODE_OWNGIL);
    EXPECT_EQ(member_stats(pool.get(), 0).completed, 5u);
    EXPECT_EQ(member_stats(pool.get(), 1).completed, 5u);
}

// ---- keys ------------------------------------------------------------------------

namespace {
struct KeyRoute {
    uint64_t member = 0;
    int moved = 0;
};

KeyRoute route_key(pyctx_pool_t *pool, const std::string &key) {
    Request r = pool_request(pool);
    EXPECT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "1")));
    EXPECT_TRUE(IsOk(pyctx_request_set_key(r.get(), key.data(), key.size())));
    EXPECT_TRUE(IsOk(pyctx_request_submit(r.get())));
    EXPECT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_OK);
    return {pyctx_request_pool_member(r.get()), pyctx_request_key_moved(r.get())};
}
}  // namespace

TEST(Pool, SameKeySameMemberAndAResizeMovesAFewReported) {
    constexpr int kKeys = 1000;
    Pool pool = make_pool({.size = 4, .routing = PYCTX_POOL_BY_KEY});
    std::vector<uint64_t> first(kKeys);
    std::set<uint64_t> used;
    for (int i = 0; i < kKeys; ++i) {
        KeyRoute a = route_key(pool.get(), "k" + std::to_string(i));
        KeyRoute b = route_key(pool.get(), "k" + std::to_string(i));
        ASSERT_NE(a.member, 0u);
        EXPECT_EQ(a.member, b.member) << i;
        EXPECT_EQ(a.moved + b.moved, 0) << i;
        first[i] = a.member;
        used.insert(a.member);
    }
    EXPECT_EQ(used.size(), 4u);

    ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), 5, 0)));
    uint64_t fresh = member_stats(pool.get(), 4).member_id;
    EXPECT_EQ(used.count(fresh), 0u);
    int moved = 0;
    std::vector<uint64_t> second(kKeys);
    for (int i = 0; i < kKeys; ++i) {
        KeyRoute a = route_key(pool.get(), "k" + std::to_string(i));
        second[i] = a.member;
        if (a.member != first[i]) {
            ++moved;
            EXPECT_EQ(a.member, fresh) << "key k" << i << " moved between old members";
            EXPECT_EQ(a.moved, 1) << "key k" << i << " moved without a report";
        } else {
            EXPECT_EQ(a.moved, 0) << "key k" << i << " reported but did not move";
        }
        EXPECT_EQ(route_key(pool.get(), "k" + std::to_string(i)).moved, 0);  // reported once
    }
    // About 1/5 of the keys move to the new member.
    EXPECT_GT(moved, kKeys * 12 / 100);
    EXPECT_LT(moved, kKeys * 28 / 100);

    // Back to 4: exactly the keys the fifth member had go back where they were.
    ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), 4, 0)));
    for (int i = 0; i < kKeys; ++i) {
        KeyRoute a = route_key(pool.get(), "k" + std::to_string(i));
        EXPECT_EQ(a.member, first[i]) << i;
        EXPECT_EQ(a.moved, second[i] != first[i] ? 1 : 0) << i;
    }
    EXPECT_GE(pool_stats(pool.get()).keys_known, static_cast<uint64_t>(kKeys));
}

TEST(Pool, KeysRouteByKeyInAnyPoolAndEnvsPinTheirMember) {
    Pool pool = make_pool({.size = 3, .routing = PYCTX_POOL_ROUND_ROBIN});
    KeyRoute a = route_key(pool.get(), "alpha");
    for (int i = 0; i < 6; ++i) EXPECT_EQ(route_key(pool.get(), "alpha").member, a.member);

    pyctx_env_t *raw_env = nullptr;
    ASSERT_TRUE(IsOk(pyctx_pool_env_create(pool.get(), &raw_env)));
    Env env(raw_env);
    Request setup = pool_request(pool.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(setup.get(), "x = 41")));
    ASSERT_TRUE(IsOk(pyctx_request_set_env(setup.get(), env.get())));
    ASSERT_TRUE(IsOk(pyctx_request_submit(setup.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(setup.get(), PYCTX_NO_TIMEOUT)));
    ASSERT_EQ(pyctx_request_status(setup.get()), PYCTX_OK);
    uint64_t home = pyctx_request_pool_member(setup.get());
    for (int i = 0; i < 9; ++i) {  // round robin would spread these
        Request r = pool_request(pool.get());
        ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "x + 1")));
        ASSERT_TRUE(IsOk(pyctx_request_set_env(r.get(), env.get())));
        ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
        ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
        size_t len = 0;
        const uint8_t *v = pyctx_request_value(r.get(), &len);
        ASSERT_NE(v, nullptr) << describe(pyctx_request_error(r.get()));
        EXPECT_EQ(as_int(v, len), 42);
        EXPECT_EQ(pyctx_request_pool_member(r.get()), home);
    }
    // An env of another pool is refused.
    Pool other = make_pool({.size = 1});
    Request r = pool_request(other.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "x")));
    ASSERT_TRUE(IsOk(pyctx_request_set_env(r.get(), env.get())));
    EXPECT_TRUE(FailsWith(pyctx_request_submit(r.get()), PYCTX_ERR_CLOSED));
    EXPECT_EQ(pyctx_request_is_done(r.get()), 0);
}

// ---- resize ------------------------------------------------------------------------

TEST(Pool, ResizeUpAndDownUnderLoadCompletesEveryRequestOnce) {
    Pool pool = make_pool({.size = 2});
    Tally t;
    std::set<uint64_t> accepted;
    std::atomic<size_t> n_accepted{0};
    std::thread submitter([&] {
        for (int i = 0; i < 4000; ++i) {
            uint64_t id = 0;
            if (pyctx_error_t *e = add_async(pool.get(), t, &id)) {
                ADD_FAILURE() << describe(e);
                pyctx_error_free(e);
                return;
            }
            accepted.insert(id);
            n_accepted.store(accepted.size());
        }
    });
    // Each resize starts once the submitter has made progress, so every one
    // of them meets requests in flight.
    size_t step = 0;
    for (size_t n : {4u, 1u, 3u, 2u, 5u, 1u}) {
        ++step;
        while (n_accepted.load() < step * 500) std::this_thread::yield();
        ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), n, PYCTX_NO_TIMEOUT))) << n;
        EXPECT_EQ(pyctx_pool_size(pool.get()), n);
    }
    submitter.join();
    ASSERT_TRUE(t.wait_for(accepted.size()));
    EXPECT_EQ(accepted.size(), 4000u);
    EXPECT_TRUE(t.exactly_once(accepted));
    // Leaving members finished their queues: nothing was closed.
    EXPECT_EQ(t.with(PYCTX_OK), accepted.size());
    pyctx_pool_stats_t s = pool_stats(pool.get());
    EXPECT_EQ(s.completed, 4000u);
    EXPECT_EQ(s.leaving, 0u);
    EXPECT_EQ(s.created, 2u + 2 + 2 + 3);
}

TEST(Pool, AShrinkWithATimeoutClosesWhatIsLeft) {
    Pool pool = make_pool({.size = 2, .routing = PYCTX_POOL_ROUND_ROBIN});
    Gate gate;
    Tally t;
    std::set<uint64_t> accepted;
    accepted.insert(start_on_member(pool.get(), 1, gate.py_spin(), t));  // slot 1 leaves
    ASSERT_TRUE(gate.wait_started());
    for (int i = 0; i < 10; ++i) {  // five queue behind the spinner
        uint64_t id = 0;
        ASSERT_TRUE(IsOk(add_async(pool.get(), t, &id)));
        accepted.insert(id);
    }
    ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), 1, 100)));
    ASSERT_TRUE(t.wait_for(accepted.size()));
    EXPECT_TRUE(t.exactly_once(accepted));
    EXPECT_EQ(t.with(PYCTX_OK), 5u);
    EXPECT_EQ(t.with(PYCTX_ERR_CLOSED), 6u);  // the spinner and the five behind it
}

// ---- replacement ---------------------------------------------------------------------

TEST(Pool, AMemberThatClosesIsReplaced) {
    Pool pool = make_pool({.size = 2, .preload = "READY = True"});
    pyctx_pool_member_stats_t before = member_stats(pool.get(), 0);
    {
        Context m = member(pool.get(), 0);
        ASSERT_TRUE(IsOk(pyctx_context_close(m.get(), 5000)));
    }
    ASSERT_TRUE(eventually([&] { return pool_stats(pool.get()).replaced == 1; }));
    EXPECT_EQ(pyctx_pool_size(pool.get()), 2u);
    pyctx_pool_member_stats_t after = member_stats(pool.get(), 0);
    EXPECT_EQ(after.slot, before.slot);
    EXPECT_NE(after.member_id, before.member_id);
    EXPECT_EQ(pool_stats(pool.get()).created, 3u);
    Context fresh = member(pool.get(), 0);
    Bytes out;
    ASSERT_TRUE(IsOk(pyctx_eval(fresh.get(), "READY", nullptr, nullptr, 0, 0, out.out())));
    EXPECT_EQ(as_bool(out), true);
    // A member handle's free does not close the member.
    fresh.reset();
    EXPECT_EQ(pool_stats(pool.get()).replaced, 1u);
    Context again = member(pool.get(), 0);
    EXPECT_EQ(pyctx_context_is_closed(again.get()), 0);
}

TEST(Pool, AProcessMemberKilledMidStreamIsReplacedAndEveryRequestCompletesOnce) {
    Pool pool = make_pool({.size = 2,
                           .routing = PYCTX_POOL_ROUND_ROBIN,
                           .mode = PYCTX_MODE_PROCESS,
                           .preload = "import time\nREADY = True"});
    const uint64_t victim = child_pid(member(pool.get(), 0).get());
    ASSERT_NE(victim, 0u);
    Tally t;
    std::set<uint64_t> accepted;
    // Member 0 sleeps, so the pool's share of it piles up behind the sleeper.
    accepted.insert(start_on_member(pool.get(), 0, "time.sleep(0.3)", t));
    std::atomic<bool> killed{false};
    std::atomic<int> submitted{0};
    std::mutex ids_mu;
    std::thread submitter([&] {
        // Submits until well after the kill, so some requests meet the dead
        // member in the routing and go to the live one instead.
        for (int i = 0; i < 4000 && !(killed.load() && i > 400); ++i) {
            uint64_t id = 0;
            Error e(add_async(pool.get(), t, &id));
            if (!e) {
                std::lock_guard lock(ids_mu);
                accepted.insert(id);
                submitted.fetch_add(1);
            } else {
                ADD_FAILURE() << "refused: " << describe(e.get());
            }
        }
    });
    // Half of these are behind the sleeper (round robin), in the child's
    // ring or the host's queue. The sleeper holds the child for 0.3 s; if the
    // machine is slower than that, fewer crash, which the checks allow.
    const bool reached = eventually([&] { return submitted.load() >= 100; });
    const int kill_rc = kill(static_cast<pid_t>(victim), SIGKILL);
    killed = true;
    submitter.join();
    ASSERT_TRUE(reached);
    ASSERT_EQ(kill_rc, 0);
    ASSERT_TRUE(t.wait_for(accepted.size())) << t.total() << " of " << accepted.size();
    EXPECT_TRUE(t.exactly_once(accepted));
    // The sleeper and what queued behind it on the dead member crashed; the
    // rest ran. Nothing else.
    EXPECT_GE(t.with(PYCTX_ERR_CRASHED), 1u);
    EXPECT_GE(t.with(PYCTX_OK), 1u);
    EXPECT_EQ(t.with(PYCTX_ERR_CRASHED) + t.with(PYCTX_OK), accepted.size());
    // The keeper replaced it with a new child that ran the preload again.
    ASSERT_TRUE(eventually([&] { return pool_stats(pool.get()).replaced == 1; }));
    EXPECT_EQ(pyctx_pool_size(pool.get()), 2u);
    EXPECT_TRUE(reaped(victim));
    Context fresh = member(pool.get(), 0);
    const uint64_t next = child_pid(fresh.get());
    EXPECT_NE(next, 0u);
    EXPECT_NE(next, victim);
    Bytes out;
    ASSERT_TRUE(IsOk(pyctx_eval(fresh.get(), "READY", nullptr, nullptr, 0, 0, out.out())));
    EXPECT_EQ(as_bool(out), true);
    // And the pool serves on both members.
    Cbor args = cbor_array(20, 22);
    for (int i = 0; i < 4; ++i) {
        Bytes sum;
        ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "add", args.data(), args.size(),
                                         nullptr, 0, 0, sum.out())));
        EXPECT_EQ(as_int(sum), 42);
    }
}

TEST(Pool, AHandleBelongsToItsMemberAndEndsWithIt) {
    Pool pool = make_pool({.size = 1, .preload = "class Box:\n    def get(self):\n        return 7\n"});
    Request r = new_request();
    ASSERT_TRUE(IsOk(pyctx_request_set_pool(r.get(), pool.get())));
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "Box()")));
    ASSERT_TRUE(IsOk(pyctx_request_set_result_form(r.get(), PYCTX_RESULT_OBJECT)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    ASSERT_EQ(pyctx_request_error(r.get()), nullptr) << describe(pyctx_request_error(r.get()));
    pyctx_object_t *raw = nullptr;
    ASSERT_TRUE(IsOk(pyctx_request_take_object(r.get(), &raw)));
    Object box(raw);
    Bytes out;
    ASSERT_TRUE(IsOk(pyctx_object_call_method(box.get(), "get", nullptr, 0, nullptr, 0,
                                              PYCTX_NO_TIMEOUT, out.out())));
    EXPECT_EQ(as_int(out), 7);
    {
        Context m = member(pool.get(), 0);
        ASSERT_TRUE(IsOk(pyctx_context_close(m.get(), 5000)));
    }
    ASSERT_TRUE(eventually([&] { return pool_stats(pool.get()).replaced == 1; }));
    // The new member never sees the old member's handle: a clear error.
    Error e(pyctx_object_call_method(box.get(), "get", nullptr, 0, nullptr, 0, PYCTX_NO_TIMEOUT,
                                     out.out()));
    ASSERT_NE(e.get(), nullptr);
    EXPECT_EQ(pyctx_error_status(e.get()), PYCTX_ERR_CLOSED) << describe(e.get());
}

TEST(Pool, TheLeavePolicyDropsAClosedMember) {
    Pool pool = make_pool({.size = 3, .replace = PYCTX_POOL_LEAVE});
    {
        Context m = member(pool.get(), 1);
        ASSERT_TRUE(IsOk(pyctx_context_close(m.get(), 5000)));
    }
    ASSERT_TRUE(eventually([&] { return pyctx_pool_size(pool.get()) == 2; }));
    pyctx_pool_stats_t s = pool_stats(pool.get());
    EXPECT_EQ(s.replaced, 0u);
    EXPECT_EQ(s.created, 3u);
    Bytes out;
    Cbor args = cbor_array(1, 2);
    ASSERT_TRUE(IsOk(pyctx_pool_call(pool.get(), "operator", "add", args.data(), args.size(),
                                     nullptr, 0, 0, out.out())));
}

// ---- cancel, bound, timeouts ------------------------------------------------------------

TEST(Pool, CancelByIdOnThePoolAndIdsAreUniquePerPool) {
    Pool pool = make_pool({.size = 2});
    Gate gate;
    Tally t;
    uint64_t b0 = start_on_member(pool.get(), 0, gate.py_block(), t);
    uint64_t b1 = start_on_member(pool.get(), 1, gate.py_block(), t);
    ASSERT_TRUE(gate.wait_started());
    ASSERT_TRUE(gate.wait_started());
    EXPECT_NE(b0, b1);  // two members, one id counter
    std::set<uint64_t> ids{b0, b1};
    std::vector<uint64_t> queued;
    for (int i = 0; i < 6; ++i) {
        uint64_t id = 0;
        ASSERT_TRUE(IsOk(add_async(pool.get(), t, &id)));
        EXPECT_TRUE(ids.insert(id).second) << "id " << id << " given twice";
        queued.push_back(id);
    }
    EXPECT_GT(member_stats(pool.get(), 0).queue_depth, 0u);
    EXPECT_GT(member_stats(pool.get(), 1).queue_depth, 0u);
    for (size_t i = 0; i < queued.size(); i += 2)
        EXPECT_TRUE(IsOk(pyctx_pool_cancel(pool.get(), queued[i])));
    EXPECT_TRUE(FailsWith(pyctx_pool_cancel(pool.get(), queued[0]), PYCTX_ERR_NOT_FOUND));
    ASSERT_TRUE(t.wait_for(3));
    EXPECT_EQ(t.with(PYCTX_ERR_CANCELLED), 3u);
    gate.release(2);
    ASSERT_TRUE(t.wait_for(8));
    EXPECT_TRUE(t.exactly_once(ids));
    EXPECT_EQ(t.with(PYCTX_OK), 5u);
    EXPECT_EQ(pool_stats(pool.get()).cancelled, 3u);
}

TEST(Pool, TheQueueBoundRefusesAtOnce) {
    Pool pool = make_pool({.size = 2, .queue_bound = 3});
    Gate gate;
    Tally t;
    std::set<uint64_t> ids;
    ids.insert(start_on_member(pool.get(), 0, gate.py_block(), t));
    ids.insert(start_on_member(pool.get(), 1, gate.py_block(), t));
    ASSERT_TRUE(gate.wait_started());
    ASSERT_TRUE(gate.wait_started());
    for (int i = 0; i < 3; ++i) {
        uint64_t id = 0;
        ASSERT_TRUE(IsOk(add_async(pool.get(), t, &id)));
        ids.insert(id);
    }
    uint64_t refused = 0;
    EXPECT_TRUE(FailsWith(add_async(pool.get(), t, &refused), PYCTX_ERR_QUEUE_FULL));
    EXPECT_EQ(refused, 0u);
    Request r = pool_request(pool.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(r.get(), "1")));
    EXPECT_TRUE(FailsWith(pyctx_request_submit(r.get()), PYCTX_ERR_QUEUE_FULL));
    EXPECT_EQ(pyctx_request_is_done(r.get()), 0);
    EXPECT_EQ(pool_stats(pool.get()).refused_full, 2u);
    EXPECT_EQ(pool_stats(pool.get()).queue_depth, 3u);
    gate.release(2);
    ASSERT_TRUE(t.wait_for(5));
    EXPECT_TRUE(t.exactly_once(ids));
    EXPECT_EQ(t.with(PYCTX_OK), 5u);
}

TEST(Pool, RequestObjectsTimeOutAndCancelThroughThePool) {
    Pool pool = make_pool({.size = 2});
    Gate gate;
    Request r = pool_request(pool.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(r.get(), gate.py_spin().c_str())));
    ASSERT_TRUE(IsOk(pyctx_request_set_timeout(r.get(), 100)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(r.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(r.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(r.get()), PYCTX_ERR_TIMEOUT);

    Request c = pool_request(pool.get());
    ASSERT_TRUE(IsOk(pyctx_request_set_exec(c.get(), gate.py_spin().c_str())));
    ASSERT_TRUE(IsOk(pyctx_request_set_timeout(c.get(), 0)));
    ASSERT_TRUE(IsOk(pyctx_request_submit(c.get())));
    ASSERT_TRUE(gate.wait_started());
    ASSERT_TRUE(gate.wait_started());  // the first one's signal, then this one's
    ASSERT_TRUE(IsOk(pyctx_request_cancel(c.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(c.get(), PYCTX_NO_TIMEOUT)));
    EXPECT_EQ(pyctx_request_status(c.get()), PYCTX_ERR_CANCELLED);

    // Resubmitted as a plain call, the same object is routed again.
    ASSERT_TRUE(IsOk(pyctx_request_set_eval(c.get(), "6 * 7")));
    ASSERT_TRUE(IsOk(pyctx_request_submit(c.get())));
    ASSERT_TRUE(IsOk(pyctx_request_wait(c.get(), PYCTX_NO_TIMEOUT)));
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(c.get(), &len);
    EXPECT_EQ(as_int(v, len), 42);
}

// ---- closing ------------------------------------------------------------------------------

TEST(Pool, CloseWithRequestsInFlightCompletesEachOnce) {
    Pool pool = make_pool({.size = 2});
    Gate gate;
    Tally t;
    std::set<uint64_t> ids;
    ids.insert(start_on_member(pool.get(), 0, gate.py_spin(), t));
    ids.insert(start_on_member(pool.get(), 1, gate.py_spin(), t));
    ASSERT_TRUE(gate.wait_started());
    ASSERT_TRUE(gate.wait_started());
    for (int i = 0; i < 20; ++i) {
        uint64_t id = 0;
        ASSERT_TRUE(IsOk(add_async(pool.get(), t, &id)));
        ids.insert(id);
    }
    ASSERT_TRUE(IsOk(pyctx_pool_close(pool.get(), 5000)));
    ASSERT_TRUE(t.wait_for(ids.size()));
    EXPECT_TRUE(t.exactly_once(ids));
    EXPECT_EQ(t.with(PYCTX_ERR_CLOSED), ids.size());
    EXPECT_EQ(pyctx_pool_is_closed(pool.get()), 1);
    EXPECT_EQ(pyctx_pool_size(pool.get()), 0u);
    uint64_t id = 0;
    EXPECT_TRUE(FailsWith(add_async(pool.get(), t, &id), PYCTX_ERR_CLOSED));
    EXPECT_TRUE(FailsWith(pyctx_pool_resize(pool.get(), 3, 0), PYCTX_ERR_CLOSED));
    EXPECT_TRUE(IsOk(pyctx_pool_close(pool.get(), 100)));  // idempotent
    EXPECT_EQ(pool_stats(pool.get()).closed, ids.size());
}

TEST(Pool, ExactlyOnceUnderCancelResizeReplacementAndClose) {
    Pool pool = make_pool({.size = 3});
    Tally t;
    std::mutex mu;
    std::set<uint64_t> accepted;
    std::atomic<size_t> n_accepted{0};
    std::atomic<bool> done{false};
    bool refused = false;
    std::thread submitter([&] {
        // Until the pool's close refuses: the close meets requests in flight.
        for (int i = 0; i < 1000000; ++i) {
            uint64_t id = 0;
            pyctx_error_t *e = add_async(pool.get(), t, &id, i % 5 == 0 ? 1 : 0);
            if (e) {  // refused: never completes
                EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_CLOSED) << describe(e);
                pyctx_error_free(e);
                refused = true;
                break;
            }
            std::lock_guard lock(mu);
            accepted.insert(id);
            n_accepted.store(accepted.size());
        }
        done = true;
    });
    std::thread canceller([&] {
        while (!done.load()) {
            uint64_t victim = 0;
            {
                std::lock_guard lock(mu);
                if (!accepted.empty()) victim = *accepted.rbegin();
            }
            if (victim) pyctx_error_free(pyctx_pool_cancel(pool.get(), victim));
            std::this_thread::yield();
        }
    });
    auto after = [&](size_t n) {
        while (n_accepted.load() < n && !done.load()) std::this_thread::yield();
    };
    after(300);
    ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), 4, 0)));
    after(900);
    {
        Context m = member(pool.get(), 1);
        ASSERT_TRUE(IsOk(pyctx_context_close(m.get(), 5000)));
    }
    after(1500);
    ASSERT_TRUE(IsOk(pyctx_pool_resize(pool.get(), 2, 0)));
    after(2200);
    ASSERT_TRUE(IsOk(pyctx_pool_close(pool.get(), 5000)));
    submitter.join();
    EXPECT_TRUE(refused);
    canceller.join();
    ASSERT_TRUE(t.wait_for(accepted.size()));
    EXPECT_TRUE(t.exactly_once(accepted));
    EXPECT_EQ(t.total(), accepted.size());
}
