// core/request/request_pool: released requests are recycled (reset to their
// just-constructed state), the pool keeps at most kCapacity idle objects and
// frees the rest, and it is safe from many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "core/request/request_pool.h"

namespace pyctx::unit {
namespace {

using core::PooledRequest;
using core::Request;
using core::RequestPool;

// A pooled type that counts its constructions and destructions, so the
// pool's reuse and bound are observable without relying on addresses.
struct Counted final : Request {
    static inline std::atomic<int> constructed{0};
    static inline std::atomic<int> destructed{0};
    Counted() { constructed.fetch_add(1); }
    ~Counted() override { destructed.fetch_add(1); }

protected:
    void destroy() override {
        reset_for_reuse();
        RequestPool<Counted>::recycle(this);
    }
};

TEST(RequestPool, AReleasedRequestIsReusedResetToItsInitialState) {
    PooledRequest *r = PooledRequest::make();
    r->kind = core::RequestKind::eval;
    r->id = 42;
    r->env_id = 7;
    r->deadline_ns = 123;
    r->target = "module";
    r->text = "expression";
    ASSERT_TRUE(r->args.append("abc", 3));
    ASSERT_TRUE(r->kwargs.append("de", 2));
    r->sink = [](Request *, void *) {};
    r->sink_data = r;
    r->claim();
    r->phase.store(core::Phase::running);
    r->interrupt_posted.store(1);
    r->host_waiting.store(true);
    r->done.store(Request::kDone);
    r->deadline_slot = 5;
    r->deadline_watched.store(true);
    r->outcome.error = core::Error(core::Status::python, "boom");
    ASSERT_TRUE(r->outcome.value.append("xyz", 3));
    r->retain();
    r->release();  // not the last reference: nothing happens
    EXPECT_EQ(r->id, 42u);
    r->release();  // back to the pool

    PooledRequest *again = PooledRequest::make();
    EXPECT_EQ(again, r) << "the pool hands back the request it just got";
    EXPECT_EQ(again->kind, core::RequestKind::call);
    EXPECT_EQ(again->id, 0u);
    EXPECT_EQ(again->env_id, 0u);
    EXPECT_EQ(again->deadline_ns, 0);
    EXPECT_TRUE(again->target.empty());
    EXPECT_TRUE(again->text.empty());
    EXPECT_TRUE(again->args.empty());
    EXPECT_TRUE(again->kwargs.empty());
    EXPECT_EQ(again->sink, nullptr);
    EXPECT_EQ(again->sink_data, nullptr);
    EXPECT_TRUE(again->is_sync());
    EXPECT_EQ(again->refs.load(), 1u);
    EXPECT_FALSE(again->is_claimed());
    EXPECT_TRUE(again->claim()) << "a recycled request can be claimed again";
    EXPECT_EQ(again->phase.load(), core::Phase::queued);
    EXPECT_EQ(again->interrupt_posted.load(), 0);
    EXPECT_FALSE(again->host_waiting.load());
    EXPECT_EQ(again->done.load(), Request::kPending);
    EXPECT_EQ(again->serving_waiter, nullptr);
    EXPECT_EQ(again->deadline_slot, -1);
    EXPECT_FALSE(again->deadline_watched.load());
    EXPECT_TRUE(again->outcome.error.ok());
    EXPECT_TRUE(again->outcome.error.message.empty());
    EXPECT_TRUE(again->outcome.value.empty());
    EXPECT_EQ(again->next, nullptr);
    again->release();
}

TEST(RequestPool, KeepsAtMostCapacityIdleObjectsAndFreesTheRest) {
    constexpr size_t kCap = RequestPool<Counted>::kCapacity;
    constexpr int kExtra = 10;
    ASSERT_EQ(Counted::constructed.load(), 0);
    std::vector<Counted *> held;
    for (size_t i = 0; i < kCap + kExtra; ++i) held.push_back(RequestPool<Counted>::acquire());
    EXPECT_EQ(Counted::constructed.load(), static_cast<int>(kCap + kExtra));
    std::set<Counted *> first(held.begin(), held.end());
    EXPECT_EQ(first.size(), kCap + kExtra);

    for (Counted *c : held) c->release();
    EXPECT_EQ(Counted::destructed.load(), kExtra) << "beyond kCapacity idle objects are freed";

    held.clear();
    for (size_t i = 0; i < kCap + kExtra; ++i) held.push_back(RequestPool<Counted>::acquire());
    EXPECT_EQ(Counted::constructed.load(), static_cast<int>(kCap + 2 * kExtra))
        << "the pool served kCapacity requests, only the rest were new";
    for (Counted *c : held) {
        EXPECT_EQ(c->refs.load(), 1u);
        c->release();
    }
    EXPECT_EQ(Counted::destructed.load(), 2 * kExtra);
}

TEST(RequestPool, ManyThreadsAcquireAndReleaseConcurrently) {
    constexpr int kThreads = 4;
    constexpr int kRounds = 2000;
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t, &mismatches] {
            std::vector<PooledRequest *> mine;
            for (int i = 0; i < kRounds; ++i) {
                PooledRequest *r = PooledRequest::make();
                if (r->id != 0 || r->refs.load() != 1) mismatches.fetch_add(1);
                r->id = static_cast<uint64_t>(t * kRounds + i + 1);  // dirty it for the next user
                mine.push_back(r);
                if (mine.size() == 8) {
                    for (PooledRequest *m : mine) m->release();
                    mine.clear();
                }
            }
            for (PooledRequest *m : mine) m->release();
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0) << "a request came out of the pool not reset, or twice";
}

}  // namespace
}  // namespace pyctx::unit
