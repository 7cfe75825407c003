// core/engine/deadline_heap: random push/remove/pop sequences against a
// reference model (a std::multiset ordered by deadline), with the heap's
// slot bookkeeping (Request::deadline_slot) checked after every operation.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/deadline_heap.h"

namespace pyctx::unit {
namespace {

using core::DeadlineHeap;
using core::Request;

using Model = std::multiset<std::pair<int64_t, Request *>>;

// Every member's slot is distinct and in range, every non-member's is -1,
// and the slots form a min-heap by deadline (parent <= child). Returns what
// is wrong, or "" (plain checks, not one gtest assertion per element: this
// runs after every operation, also in sanitizer builds).
std::string inconsistency(const DeadlineHeap &heap, const Model &model,
                          const std::vector<std::unique_ptr<Request>> &all) {
    if (heap.size() != model.size()) return "size differs from the model";
    if (heap.empty() != model.empty()) return "empty() differs from the model";
    if (!model.empty() && heap.earliest() != model.begin()->first)
        return "earliest() is not the model's smallest deadline";
    std::vector<Request *> at(model.size(), nullptr);
    for (const auto &[deadline, r] : model) {
        if (r->deadline_slot < 0 || static_cast<size_t>(r->deadline_slot) >= model.size())
            return "member slot out of range";
        if (at[r->deadline_slot]) return "two members share a slot";
        at[r->deadline_slot] = r;
    }
    for (size_t i = 1; i < at.size(); ++i)
        if (at[(i - 1) / 2]->deadline_ns > at[i]->deadline_ns)
            return "heap order broken at slot " + std::to_string(i);
    for (const auto &r : all) {
        const int32_t slot = r->deadline_slot;
        const bool member =
            slot >= 0 && static_cast<size_t>(slot) < at.size() && at[slot] == r.get();
        if (!member && slot != -1) return "a non-member has a slot";
        if (r->refs.load() != 1) return "the heap touched a reference count";
    }
    return "";
}

TEST(DeadlineHeap, RandomOperationsMatchAMultisetModel) {
    std::mt19937_64 rng(20261201);
    constexpr int kRequests = 200;
    for (int round = 0; round < 10; ++round) {
        std::vector<std::unique_ptr<Request>> all;
        for (int i = 0; i < kRequests; ++i) {
            all.push_back(std::make_unique<Request>());
            // Few distinct deadlines in some rounds: many equal keys.
            const int64_t spread = round % 2 ? 10 : 1000000;
            all.back()->deadline_ns = 1 + static_cast<int64_t>(rng() % spread);
        }
        DeadlineHeap heap;
        Model model;
        for (int step = 0; step < 2000; ++step) {
            Request *r = all[rng() % all.size()].get();
            const bool member = r->deadline_slot >= 0;
            switch (rng() % 4) {
                case 0:
                case 1:  // push a non-member (more pushes than removals keeps it full)
                    if (member) break;
                    heap.push(r, nullptr, {});
                    model.insert({r->deadline_ns, r});
                    break;
                case 2: {  // remove anything, member or not
                    const bool removed = heap.remove(r);
                    ASSERT_EQ(removed, member);
                    if (removed) model.erase(model.find({r->deadline_ns, r}));
                    break;
                }
                case 3: {
                    if (model.empty()) break;
                    DeadlineHeap::Entry e = heap.pop();
                    // Equal deadlines may pop in any order among themselves.
                    ASSERT_EQ(e.request->deadline_ns, model.begin()->first);
                    auto it = model.find({e.request->deadline_ns, e.request});
                    ASSERT_NE(it, model.end());
                    model.erase(it);
                    ASSERT_EQ(e.request->deadline_slot, -1);
                    break;
                }
            }
            ASSERT_EQ(inconsistency(heap, model, all), "") << "round " << round << " step " << step;
        }
        // Drain in deadline order.
        int64_t last = 0;
        while (!heap.empty()) {
            DeadlineHeap::Entry e = heap.pop();
            ASSERT_GE(e.request->deadline_ns, last);
            last = e.request->deadline_ns;
            model.erase(model.find({e.request->deadline_ns, e.request}));
            ASSERT_EQ(inconsistency(heap, model, all), "");
        }
        ASSERT_TRUE(model.empty());
    }
}

TEST(DeadlineHeap, RemoveRefusesARequestWhoseSlotPointsElsewhere) {
    Request a, b, stranger;
    a.deadline_ns = 5;
    b.deadline_ns = 7;
    DeadlineHeap heap;
    heap.push(&a, nullptr, {});
    heap.push(&b, nullptr, {});
    stranger.deadline_slot = 0;  // stale slot of a request that is not a member
    EXPECT_FALSE(heap.remove(&stranger));
    stranger.deadline_slot = 9;
    EXPECT_FALSE(heap.remove(&stranger));
    EXPECT_EQ(heap.size(), 2u);
    EXPECT_EQ(heap.earliest(), 5);
    EXPECT_TRUE(heap.remove(&a));
    EXPECT_FALSE(heap.remove(&a));
    EXPECT_EQ(heap.earliest(), 7);
}

TEST(DeadlineHeap, EntriesKeepTheirLaneAndAWeakOwner) {
    auto owner = std::make_shared<int>(1);
    auto *lane = reinterpret_cast<core::Lane *>(0x1000);  // never dereferenced by the heap
    Request r;
    r.deadline_ns = 3;
    DeadlineHeap heap;
    heap.push(&r, lane, owner);
    EXPECT_EQ(owner.use_count(), 1) << "the heap holds the owner weakly";
    DeadlineHeap::Entry e = heap.pop();
    EXPECT_EQ(e.request, &r);
    EXPECT_EQ(e.lane, lane);
    EXPECT_EQ(e.owner.lock(), owner);
    owner.reset();
    EXPECT_TRUE(e.owner.expired());
}

TEST(DeadlineHeap, TakeAllEmptiesTheHeapAndClearsEverySlot) {
    std::vector<std::unique_ptr<Request>> all;
    DeadlineHeap heap;
    for (int i = 0; i < 50; ++i) {
        all.push_back(std::make_unique<Request>());
        all.back()->deadline_ns = 100 - i;
        heap.push(all.back().get(), nullptr, {});
    }
    auto taken = heap.take_all();
    EXPECT_EQ(taken.size(), 50u);
    EXPECT_TRUE(heap.empty());
    std::set<Request *> seen;
    for (auto &e : taken) seen.insert(e.request);
    EXPECT_EQ(seen.size(), 50u);
    for (auto &r : all) EXPECT_EQ(r->deadline_slot, -1);
}

}  // namespace
}  // namespace pyctx::unit
