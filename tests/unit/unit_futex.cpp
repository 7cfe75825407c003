// core/base/futex (wait with timeout, wake), AdaptiveSpin (its budget, as
// seen through how often it polls) and SpinLock (mutual exclusion).
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/base/futex.h"
#include "core/base/spin_lock.h"

namespace pyctx::unit {
namespace {

using core::AdaptiveSpin;
using core::futex_wait;
using core::futex_wake;
using core::futex_wake_all;

TEST(Futex, WaitOnAChangedValueReturnsAtOnceAsWoken) {
    std::atomic<uint32_t> word{1};
    EXPECT_TRUE(futex_wait(word, 0, 10'000'000'000));
}

TEST(Futex, WaitWithATimeoutAndNoWakerReportsTheTimeout) {
    std::atomic<uint32_t> word{0};
    EXPECT_FALSE(futex_wait(word, 0, 1'000'000));
    EXPECT_FALSE(futex_wait(word, 0, 0)) << "a zero timeout is a timeout, not forever";
}

// The state letter of thread `tid` of this process (R, S, ...).
char thread_state(long tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(f, line);
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

TEST(Futex, WakeWakesAThreadAsleepInWait) {
    std::atomic<uint32_t> word{0};
    std::atomic<long> tid{0};
    std::atomic<int> result{-1};
    std::thread waiter([&] {
        tid.store(static_cast<long>(syscall(SYS_gettid)));
        // Long timeout: if wake did nothing this returns false (a failure),
        // not a hang.
        result.store(futex_wait(word, 0, 60'000'000'000) ? 1 : 0);
    });
    // Wake only once the waiter sleeps in the kernel, so the wake (and not
    // the value check on entry) is what ends its wait. The value never
    // changes: only futex_wake can release it.
    while (tid.load() == 0 || thread_state(tid.load()) != 'S') std::this_thread::yield();
    while (result.load() == -1) {
        futex_wake(word);
        std::this_thread::yield();
    }
    waiter.join();
    EXPECT_EQ(result.load(), 1);
}

TEST(Futex, WakeAllReleasesEveryWaiterOnceTheValueChanges) {
    std::atomic<uint32_t> word{0};
    std::atomic<int> released{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i) {
        waiters.emplace_back([&] {
            while (word.load() == 0) futex_wait(word, 0);
            released.fetch_add(1);
        });
    }
    word.store(1);
    futex_wake_all(word);
    for (auto &t : waiters) t.join();
    EXPECT_EQ(released.load(), 4);
}

// How many times one failing spin polls its predicate: budget + 1.
uint32_t budget_of(AdaptiveSpin &spin) {
    uint32_t polls = 0;
    EXPECT_FALSE(spin.spin([&] {
        ++polls;
        return false;
    }));
    return polls - 1;
}

TEST(AdaptiveSpin, ReturnsTrueAsSoonAsThePredicateHolds) {
    AdaptiveSpin spin(100);
    int polls = 0;
    EXPECT_TRUE(spin.spin([&] { return ++polls == 1; }));
    EXPECT_EQ(polls, 1);
    polls = 0;
    EXPECT_TRUE(spin.spin([&] { return ++polls == 50; }));
    EXPECT_EQ(polls, 50);
}

TEST(AdaptiveSpin, BudgetHalvesOnFailureDownToTheMinimum) {
    AdaptiveSpin spin(1024);
    // Each failing spin uses the budget it had, then halves it.
    EXPECT_EQ(budget_of(spin), 1024u);
    EXPECT_EQ(budget_of(spin), 512u);
    EXPECT_EQ(budget_of(spin), 256u);
    EXPECT_EQ(budget_of(spin), 128u);
    EXPECT_EQ(budget_of(spin), AdaptiveSpin::kMin);
    EXPECT_EQ(budget_of(spin), AdaptiveSpin::kMin) << "never below kMin";
    // A predicate that holds just after the budget is still seen by the
    // final check.
    uint32_t polls = 0;
    EXPECT_TRUE(spin.spin([&] { return ++polls == AdaptiveSpin::kMin + 1; }));
}

TEST(AdaptiveSpin, BudgetGrowsOnSuccessUpToTheMaximum) {
    AdaptiveSpin spin(AdaptiveSpin::kMin);
    // Success grows the budget by an eighth (plus one).
    EXPECT_TRUE(spin.spin([] { return true; }));
    EXPECT_EQ(budget_of(spin), AdaptiveSpin::kMin + AdaptiveSpin::kMin / 8 + 1);
    // Many successes: capped near kMax (growth stops once it reaches it).
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(spin.spin([] { return true; }));
    const uint32_t top = budget_of(spin);
    EXPECT_GE(top, AdaptiveSpin::kMax);
    EXPECT_LE(top, AdaptiveSpin::kMax + AdaptiveSpin::kMax / 8 + 1);
    // A success late in the budget (after many polls) counts as success too.
    AdaptiveSpin late(256);
    uint32_t polls = 0;
    EXPECT_TRUE(late.spin([&] { return ++polls == 200; }));
    EXPECT_EQ(budget_of(late), 256u + 256 / 8 + 1);
}

// Waits (busy) until `ns` have passed: the rule under test is about time.
void pass_time(int64_t ns) {
    const int64_t until = core::now_ns() + ns;
    while (core::now_ns() < until) core::cpu_relax();
}

TEST(AdaptiveSpin, AWakeSoonAfterGivingUpGrowsTheBudgetToCoverIt) {
    AdaptiveSpin spin(AdaptiveSpin::kMin);
    EXPECT_FALSE(spin.spin([] { return false; }));
    EXPECT_EQ(spin.budget(), AdaptiveSpin::kMin) << "at the minimum already";
    // Woken at once: at least the budget that failed, with the margin.
    spin.after_park();
    EXPECT_GE(spin.budget(), AdaptiveSpin::kMin + AdaptiveSpin::kMin / 4);
    // Woken 20 us after giving up: the budget grows to cover 20 us of turns,
    // which is more than the kMin turns it spun (pause is < 300 ns).
    AdaptiveSpin later(AdaptiveSpin::kMin);
    EXPECT_FALSE(later.spin([] { return false; }));
    pass_time(20'000);
    later.after_park();
    EXPECT_GT(later.budget(), 2 * AdaptiveSpin::kMin);
    EXPECT_LE(later.budget(), AdaptiveSpin::kMax);
    // Reported once per failed spin: a second report changes nothing.
    const uint32_t after = later.budget();
    later.after_park();
    EXPECT_EQ(later.budget(), after);
}

TEST(AdaptiveSpin, AWakeLongAfterGivingUpLeavesTheBudgetShrunk) {
    AdaptiveSpin spin(1024);
    EXPECT_FALSE(spin.spin([] { return false; }));
    EXPECT_EQ(spin.budget(), 512u);
    pass_time(AdaptiveSpin::kCatchNs + 50'000);
    spin.after_park();
    EXPECT_EQ(spin.budget(), 512u) << "an idle wait is not worth spinning for";
    // Nor does a report after a spin that succeeded.
    EXPECT_TRUE(spin.spin([] { return true; }));
    const uint32_t b = spin.budget();
    spin.after_park();
    EXPECT_EQ(spin.budget(), b);
}

TEST(SpinLock, ExcludesOtherThreads) {
    core::SpinLock lock;
    EXPECT_TRUE(lock.try_lock());
    EXPECT_FALSE(lock.try_lock());
    lock.unlock();
    constexpr int kThreads = 4;
    constexpr int kIncrements = 20000;
    long counter = 0;  // deliberately not atomic: the lock protects it
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kIncrements; ++i) {
                lock.lock();
                ++counter;
                lock.unlock();
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(counter, long{kThreads} * kIncrements);
    EXPECT_TRUE(lock.try_lock());
    lock.unlock();
}

}  // namespace
}  // namespace pyctx::unit
