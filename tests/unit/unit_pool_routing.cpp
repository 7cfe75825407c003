// A pool's routing parts without Python: the consistent-hash ring (keys
// stay put, a resize moves about 1/N of them and only to or from the
// changed slot), the key table's moved reports, and the least-queued and
// round-robin choices over synthetic member loads (awake before parked).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/engine/pool/hash_ring.h"
#include "core/engine/pool/key_table.h"
#include "core/engine/pool/router.h"

using namespace pyctx::core;

namespace {

std::vector<uint32_t> slots(uint32_t n) {
    std::vector<uint32_t> s;
    for (uint32_t i = 0; i < n; ++i) s.push_back(i);
    return s;
}

uint32_t owner(const HashRing &ring, const std::string &key) {
    int64_t s = ring.find(HashRing::hash_key(key.data(), key.size()), [](uint32_t) { return true; });
    EXPECT_GE(s, 0);
    return static_cast<uint32_t>(s);
}

constexpr int kKeys = 20000;
std::string key(int i) { return "user:" + std::to_string(i); }

}  // namespace

TEST(HashRing, SameKeySameSlotAndEverySlotGetsAShare) {
    HashRing ring;
    ring.build(slots(4));
    std::map<uint32_t, int> share;
    for (int i = 0; i < kKeys; ++i) {
        uint32_t s = owner(ring, key(i));
        EXPECT_EQ(owner(ring, key(i)), s);
        ++share[s];
    }
    ASSERT_EQ(share.size(), 4u);
    for (auto &[slot, n] : share) {
        EXPECT_GT(n, kKeys / 4 * 7 / 10) << "slot " << slot;
        EXPECT_LT(n, kKeys / 4 * 13 / 10) << "slot " << slot;
    }
}

TEST(HashRing, GrowingMovesAboutOneInNPlusOneAndOnlyToTheNewSlot) {
    HashRing four, five;
    four.build(slots(4));
    five.build(slots(5));
    int moved = 0;
    for (int i = 0; i < kKeys; ++i) {
        uint32_t before = owner(four, key(i)), after = owner(five, key(i));
        if (before != after) {
            ++moved;
            EXPECT_EQ(after, 4u) << key(i) << " moved between old slots";
        }
    }
    // 1/5 expected; 160 points per slot keep it within a few percent.
    EXPECT_GT(moved, kKeys * 14 / 100);
    EXPECT_LT(moved, kKeys * 26 / 100);
}

TEST(HashRing, RemovingASlotMovesOnlyItsKeys) {
    HashRing all, without2;
    all.build(slots(5));
    without2.build({0, 1, 3, 4});
    for (int i = 0; i < kKeys; ++i) {
        uint32_t before = owner(all, key(i)), after = owner(without2, key(i));
        if (before != 2) {
            EXPECT_EQ(after, before) << key(i);
        }
        EXPECT_NE(after, 2u);
    }
}

TEST(HashRing, FindSkipsRefusedSlotsInRingOrder) {
    HashRing ring;
    ring.build(slots(3));
    std::string k = key(7);
    uint64_t h = HashRing::hash_key(k.data(), k.size());
    uint32_t first = owner(ring, k);
    std::vector<uint32_t> offered;
    int64_t got = ring.find(h, [&](uint32_t s) {
        offered.push_back(s);
        return s != first;
    });
    ASSERT_GE(offered.size(), 2u);
    EXPECT_EQ(offered[0], first);
    EXPECT_EQ(got, static_cast<int64_t>(offered[1]));
    EXPECT_NE(got, static_cast<int64_t>(first));
    EXPECT_EQ(ring.find(h, [](uint32_t) { return false; }), -1);
    HashRing empty;
    EXPECT_EQ(empty.find(h, [](uint32_t) { return true; }), -1);
}

TEST(HashRing, HashIsStable) {
    // Reproducible across runs and builds: a key's slot must not depend on
    // the process (std::hash would).
    EXPECT_EQ(HashRing::hash_key("", 0), HashRing::hash_key("", 0));
    EXPECT_NE(HashRing::hash_key("a", 1), HashRing::hash_key("b", 1));
    EXPECT_EQ(HashRing::hash_key("user:1", 6), HashRing::hash_key(std::string("user:1").data(), 6));
}

TEST(KeyTable, ReportsAKeyWhoseMemberChanged) {
    KeyTable t(1000);
    EXPECT_FALSE(t.route(11, 1));  // new key
    EXPECT_FALSE(t.route(11, 1));  // same member
    EXPECT_TRUE(t.route(11, 2));   // moved
    EXPECT_FALSE(t.route(11, 2));  // reported once
    EXPECT_FALSE(t.route(12, 2));
    EXPECT_EQ(t.size(), 2u);
}

TEST(KeyTable, ZeroCapacityRemembersNothing) {
    KeyTable t(0);
    EXPECT_FALSE(t.route(5, 1));
    EXPECT_FALSE(t.route(5, 2));
    EXPECT_EQ(t.size(), 0u);
}

TEST(KeyTable, StaysWithinItsBound) {
    KeyTable t(160);
    for (uint64_t k = 0; k < 100000; ++k) t.route(k * 0x9e3779b97f4a7c15ULL, 1);
    EXPECT_LE(t.size(), 160u + KeyTable::kShards);
}

TEST(Router, LeastQueuedPicksTheShortestQueue) {
    std::vector<MemberLoad> m(3);
    m[0].queued = 3;
    m[1].queued = 1;
    m[2].queued = 2;
    EXPECT_EQ(pick_least_queued(3, 0, [&](size_t i) { return m[i]; }), 1);
}

TEST(Router, LeastQueuedCountsARunningRequest) {
    std::vector<MemberLoad> m(2);
    m[0].busy = true;  // queue empty but running
    EXPECT_EQ(pick_least_queued(2, 0, [&](size_t i) { return m[i]; }), 1);
}

TEST(Router, AwakeBeatsParkedAtEqualLoad) {
    std::vector<MemberLoad> m(3);
    m[0].parked = true;
    m[1].parked = true;
    m[2].parked = false;
    for (size_t start = 0; start < 3; ++start)
        EXPECT_EQ(pick_least_queued(3, start, [&](size_t i) { return m[i]; }), 2) << start;
}

TEST(Router, ParkedIdleBeatsAwakeWithWork) {
    std::vector<MemberLoad> m(2);
    m[0].parked = true;
    m[1].queued = 1;
    EXPECT_EQ(pick_least_queued(2, 1, [&](size_t i) { return m[i]; }), 0);
}

TEST(Router, TiesRotateWithTheStart) {
    std::vector<MemberLoad> m(4);
    for (auto &x : m) x.parked = true;
    for (size_t start = 0; start < 8; ++start)
        EXPECT_EQ(pick_least_queued(4, start, [&](size_t i) { return m[i]; }),
                  static_cast<long>(start % 4));
}

TEST(Router, ClosingMembersAreNeverPicked) {
    std::vector<MemberLoad> m(3);
    m[0].closing = true;
    m[1].closing = true;
    m[2].queued = 50;
    EXPECT_EQ(pick_least_queued(3, 0, [&](size_t i) { return m[i]; }), 2);
    m[2].closing = true;
    EXPECT_EQ(pick_least_queued(3, 0, [&](size_t i) { return m[i]; }), -1);
}

TEST(Router, RoundRobinTakesTurnsAndSkipsClosing) {
    bool closing[3] = {false, true, false};
    auto c = [&](size_t i) { return closing[i]; };
    EXPECT_EQ(pick_round_robin(3, 0, c), 0);
    EXPECT_EQ(pick_round_robin(3, 1, c), 2);
    EXPECT_EQ(pick_round_robin(3, 2, c), 2);
    EXPECT_EQ(pick_round_robin(3, 3, c), 0);
    closing[0] = closing[2] = true;
    EXPECT_EQ(pick_round_robin(3, 0, c), -1);
}

// pick_least_queued_seen over a table of remembered scores.
struct SeenTable {
    std::vector<MemberLoad> now;  // the truth
    std::vector<uint64_t> seen;   // what the router remembers
    std::vector<int> reads;       // how often each member's load was read
    explicit SeenTable(size_t n) : now(n), seen(n, 0), reads(n, 0) {}
    long pick(size_t start, bool refresh) {
        return pick_least_queued_seen(
            now.size(), start, refresh, [&](size_t i) { return seen[i]; },
            [&](size_t i) {
                ++reads[i];
                return now[i];
            },
            [&](size_t i, uint64_t s) { seen[i] = s; });
    }
};

TEST(Router, RememberedScoresReadOnlyTheChosenMember) {
    SeenTable t(3);
    for (size_t i = 0; i < 3; ++i) t.now[i].queued = 40 + i, t.now[i].busy = true;
    EXPECT_EQ(t.pick(0, true), 0);  // a full read: every member (none scores 0)
    EXPECT_EQ(t.reads, (std::vector<int>{1, 1, 1}));
    EXPECT_EQ(t.seen[2], load_score(t.now[2]));
    t.now[0].queued = 44;  // within a quarter of the runner-up: still trusted
    EXPECT_EQ(t.pick(0, false), 0);
    EXPECT_EQ(t.reads, (std::vector<int>{2, 1, 1}));
    EXPECT_EQ(t.seen[0], load_score(t.now[0]));
}

TEST(Router, AChosenMemberFarWorseThanRememberedMakesAFullRead) {
    SeenTable t(2);  // both remembered idle and awake (score 0)
    t.now[0].busy = true;  // member 0 started a long request meanwhile
    EXPECT_EQ(t.pick(0, false), 1);
    EXPECT_EQ(t.reads[0], 2);  // read as the choice, then in the full read
    EXPECT_EQ(t.seen[0], load_score(t.now[0]));
    // From here on member 1 wins without a full read.
    EXPECT_EQ(t.pick(0, false), 1);
    EXPECT_EQ(t.reads[0], 2);
}

TEST(Router, ARefreshSeesAMemberThatDrained) {
    SeenTable t(2);
    t.now[0].queued = 500, t.now[1].queued = 300;
    t.now[0].busy = t.now[1].busy = true;
    t.pick(0, true);
    t.now[0].queued = 0, t.now[0].busy = false;  // drained, unnoticed so far
    EXPECT_EQ(t.pick(0, false), 1);  // remembered 500 > 300: not read
    EXPECT_EQ(t.pick(0, true), 0);   // the periodic full read finds it
}

TEST(Router, RememberedScoresNeverPickAClosingMember) {
    SeenTable t(2);
    t.now[0].closing = true;  // remembered as 0 still
    t.now[1].queued = 9;
    EXPECT_EQ(t.pick(0, false), 1);
    t.now[1].closing = true;
    EXPECT_EQ(t.pick(0, false), -1);
}
