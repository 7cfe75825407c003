// core/base/id_map.h: random inserts, finds and erases against a reference
// model (std::unordered_map), with ids both sequential (the request path's
// pattern) and clustered so that runs wrap around the table's end and
// backward-shift deletion has to move entries across it.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>

#include "core/base/id_map.h"

namespace pyctx::unit {
namespace {

using core::IdMap;

struct Value {
    uint64_t id = 0;
    int slot = -1;
};

// Every model entry is found with its value, and the map holds nothing else.
::testing::AssertionResult same(IdMap<Value> &map, const std::unordered_map<uint64_t, int> &model) {
    if (map.size() != model.size())
        return ::testing::AssertionFailure() << "size " << map.size() << " vs " << model.size();
    for (const auto &[key, slot] : model) {
        Value *v = map.find(key);
        if (!v) return ::testing::AssertionFailure() << "key " << key << " lost";
        if (v->id != key || v->slot != slot) return ::testing::AssertionFailure() << "key " << key << " has a wrong value";
    }
    size_t seen = 0;
    bool stray = false;
    map.for_each([&](uint64_t key, Value &) {
        ++seen;
        stray |= model.count(key) == 0;
    });
    if (seen != model.size() || stray) return ::testing::AssertionFailure() << "for_each disagrees";
    return ::testing::AssertionSuccess();
}

void run_random(uint64_t key_span, uint64_t seed) {
    std::mt19937_64 rng(seed);
    IdMap<Value> map;
    std::unordered_map<uint64_t, int> model;
    for (int step = 0; step < 200000; ++step) {
        const uint64_t key = 1 + rng() % key_span;
        const int op = static_cast<int>(rng() % 3);
        if (op == 0) {
            const int slot = static_cast<int>(rng() % 1000);
            const bool added = map.insert(key, Value{key, slot});
            ASSERT_EQ(added, model.count(key) == 0) << "step " << step;
            if (added) model[key] = slot;
        } else if (op == 1) {
            Value out;
            const bool erased = map.erase(key, &out);
            ASSERT_EQ(erased, model.count(key) == 1) << "step " << step;
            if (erased) {
                EXPECT_EQ(out.id, key);
                EXPECT_EQ(out.slot, model[key]);
                model.erase(key);
            }
        } else {
            Value *v = map.find(key);
            ASSERT_EQ(v != nullptr, model.count(key) == 1) << "step " << step;
        }
        if (step % 997 == 0) {
            ASSERT_TRUE(same(map, model)) << "step " << step;
        }
    }
    ASSERT_TRUE(same(map, model));
}

TEST(IdMap, RandomOperationsAgreeWithAModel) {
    run_random(64, 1);      // dense: long runs, many shifts, wrap-around
    run_random(5000, 2);    // growth and shrinking membership
    run_random(1u << 30, 3);  // sparse
}

TEST(IdMap, ASlidingWindowOfSequentialIdsStaysConsistent) {
    IdMap<Value> map;
    map.reserve(1024);
    std::unordered_map<uint64_t, int> model;
    // A sliding window: id n enters while id n - 1024 leaves, as requests
    // in flight do.
    for (uint64_t id = 1; id <= 100000; ++id) {
        ASSERT_TRUE(map.insert(id, Value{id, static_cast<int>(id % 7)}));
        model[id] = static_cast<int>(id % 7);
        if (id > 1024) {
            ASSERT_TRUE(map.erase(id - 1024));
            model.erase(id - 1024);
        }
        ASSERT_EQ(map.size(), model.size());
    }
    ASSERT_TRUE(same(map, model));
    EXPECT_FALSE(map.insert(100000, Value{}));  // present: refused, unchanged
    EXPECT_EQ(map.find(100000)->slot, static_cast<int>(100000 % 7));
    EXPECT_FALSE(map.erase(1));                   // long gone
    EXPECT_EQ(map.find(0), nullptr);              // 0 is never a key
    map.clear();
    EXPECT_TRUE(map.empty());
    EXPECT_EQ(map.find(99999), nullptr);
}

}  // namespace
}  // namespace pyctx::unit
