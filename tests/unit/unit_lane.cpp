// core/engine/lane driven by a fake executor (fake_executor.h) and a real
// core::Service: exactly-once completion under racing cancels, deadlines and
// close from many threads; synchronous run/wait with deadlines and cancel;
// refusals (queue full, closed) that never complete; and the deadline heap
// letting go of a request the moment it completes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "core/base/futex.h"
#include "core/cbor/writer.h"
#include "core/engine/lane.h"
#include "core/engine/service.h"
#include "fake_executor.h"
#include "hex.h"

namespace pyctx::unit {
namespace {

using core::Error;
using core::Lane;
using core::Origin;
using core::Outcome;
using core::Request;
using core::RequestRef;
using core::Status;
using core::futex_wait;
using core::futex_wake_all;
using core::now_ns;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kHour = 3600'000 * kMs;

// Per-id record of deliveries, and of request objects made and destroyed.
struct Tracker {
    explicit Tracker(size_t max_id) : deliveries(max_id + 1), status(max_id + 1) {}
    std::vector<std::atomic<uint32_t>> deliveries;
    std::vector<std::atomic<int>> status;
    std::atomic<uint32_t> delivered{0};
    std::atomic<uint32_t> bad_values{0};
    std::atomic<uint32_t> created{0};
    std::atomic<uint32_t> destroyed{0};

    void wait_destroyed(uint32_t n) {
        for (uint32_t v = destroyed.load(); v < n; v = destroyed.load()) futex_wait(destroyed, v);
    }
    void wait_delivered(uint32_t n) {
        for (uint32_t v = delivered.load(); v < n; v = delivered.load()) futex_wait(delivered, v);
    }
};

// A request whose destruction is observable.
struct TrackedRequest final : Request {
    explicit TrackedRequest(Tracker &t) : tracker(t) { t.created.fetch_add(1); }
    Tracker &tracker;

protected:
    void destroy() override {
        Tracker &t = tracker;
        delete this;
        t.destroyed.fetch_add(1);
        futex_wake_all(t.destroyed);
    }
};

bool value_is_id(const Request *r) {
    core::ByteBuffer want;
    if (!core::cbor::write_uint(want, r->id)) return false;
    return r->outcome.value.size() == want.size() &&
           std::memcmp(r->outcome.value.data(), want.data(), want.size()) == 0;
}

void record_delivery(Request *r, void *data) {
    auto *t = static_cast<Tracker *>(data);
    if (r->id < t->deliveries.size()) {
        t->deliveries[r->id].fetch_add(1);
        t->status[r->id].store(static_cast<int>(r->outcome.error.status));
    }
    if (r->outcome.error.ok() && !value_is_id(r)) t->bad_values.fetch_add(1);
    t->delivered.fetch_add(1);
    futex_wake_all(t->delivered);
}

class LaneTest : public testing::Test {
protected:
    void start(size_t capacity = 0, bool defer = false) {
        service_ = std::make_unique<core::Service>();
        service_->start();
        lane_ = std::make_unique<Lane>("unit", capacity, *service_);
        fake_ = std::make_unique<FakeExecutor>(*lane_, defer);
        lane_->attach(fake_.get(), owner_);
        ASSERT_TRUE(fake_->start().ok());
    }
    // Closes the lane, waits for the fake to exit and stops the service
    // (which delivers whatever is still pending).
    void close() {
        if (closed_) return;
        closed_ = true;
        lane_->begin_close();
        ASSERT_TRUE(fake_->wait_exited(now_ns() + 60'000 * kMs));
        service_->stop();
    }
    void TearDown() override {
        if (lane_) close();
    }
    // Closes and drops this lane, executor and service, for a fresh start().
    void reset() {
        if (lane_) close();
        fake_.reset();
        lane_.reset();
        service_.reset();
        closed_ = false;
    }

    // A new request for this lane (id assigned), async when `tracker` is
    // to be its sink, sync otherwise.
    TrackedRequest *make(Tracker &t, const char *text = "", int64_t deadline_ns = 0,
                         bool async = true) {
        auto *r = new TrackedRequest(t);
        r->id = lane_->next_request_id();
        r->text = text;
        r->deadline_ns = deadline_ns;
        if (async) {
            r->sink = record_delivery;
            r->sink_data = &t;
        }
        return r;
    }

    // Trackers outlive every lane, so a test that fails half-way does not
    // leave late deliveries writing into a destroyed one.
    Tracker &tracker(size_t max_id) {
        trackers_.push_back(std::make_unique<Tracker>(max_id));
        return *trackers_.back();
    }

    uint64_t completed_total() {
        core::LaneStats s = lane_->stats();
        return s.completed + s.failed + s.cancelled + s.timed_out + s.closed;
    }

    std::vector<std::unique_ptr<Tracker>> trackers_;
    std::unique_ptr<core::Service> service_;
    std::shared_ptr<int> owner_ = std::make_shared<int>(0);
    std::unique_ptr<Lane> lane_;
    std::unique_ptr<FakeExecutor> fake_;
    bool closed_ = false;
};

TEST_F(LaneTest, AsyncRequestsCompleteOnceWithTheirValue) {
    for (bool defer : {false, true}) {
        SCOPED_TRACE(defer ? "deferred delivery" : "direct delivery");
        reset();
        Tracker &t = tracker(300);
        start(0, defer);
        for (int i = 0; i < 100; ++i)
            ASSERT_TRUE(lane_->submit(RequestRef(make(t, i % 10 == 0 ? "fail" : "")), false).ok());
        t.wait_delivered(100);
        for (uint64_t id = 1; id <= 100; ++id) {
            EXPECT_EQ(t.deliveries[id].load(), 1u) << id;
            EXPECT_EQ(t.status[id].load(),
                      static_cast<int>((id - 1) % 10 == 0 ? Status::python : Status::ok))
                << id;
        }
        EXPECT_EQ(t.bad_values.load(), 0u);
        close();
        EXPECT_EQ(lane_->stats().completed, 90u);
        EXPECT_EQ(lane_->stats().failed, 10u);
        EXPECT_EQ(t.delivered.load(), 100u);
        EXPECT_EQ(t.destroyed.load(), t.created.load());
    }
}

TEST_F(LaneTest, ExactlyOnceUnderRacingCancelsDeadlinesAndClose) {
    constexpr int kSubmitters = 4;
    constexpr int kPerSubmitter = 3000;
    constexpr size_t kMaxId = kSubmitters * kPerSubmitter + 1;
    Tracker &t = tracker(kMaxId);
    start();
    std::vector<std::atomic<uint8_t>> accepted(kMaxId + 1);
    std::atomic<bool> stop_cancelling{false};
    std::atomic<uint64_t> cancels_ok{0};

    std::thread canceller([&] {
        std::mt19937_64 rng(7);
        while (!stop_cancelling.load()) {
            const uint64_t id = 1 + rng() % kMaxId;
            if (lane_->cancel(id).ok()) cancels_ok.fetch_add(1);
        }
    });
    std::vector<std::thread> submitters;
    for (int s = 0; s < kSubmitters; ++s) {
        submitters.emplace_back([&, s] {
            std::mt19937_64 rng(100 + s);
            for (int i = 0; i < kPerSubmitter; ++i) {
                const int kind = static_cast<int>(rng() % 8);
                const char *text = kind < 2 ? "hold" : kind == 2 ? "fail" : "";
                int64_t deadline = 0;
                switch (rng() % 3) {
                    case 0: break;
                    case 1: deadline = now_ns() + static_cast<int64_t>(rng() % 300'000); break;
                    case 2: deadline = now_ns() + kHour; break;
                }
                TrackedRequest *r = make(t, text, deadline);
                const uint64_t id = r->id;
                const Error e = lane_->submit(RequestRef(r), true);
                if (e.ok()) {
                    accepted[id].store(1);
                } else {
                    EXPECT_TRUE(e.status == Status::closed) << e.message;
                }
                // Close mid-stream, while submissions, cancels and deadlines race.
                if (s == 0 && i == kPerSubmitter / 2) lane_->begin_close();
            }
        });
    }
    for (auto &th : submitters) th.join();
    stop_cancelling.store(true);
    canceller.join();
    close();

    uint64_t n_accepted = 0;
    for (uint64_t id = 1; id <= kMaxId; ++id) {
        if (accepted[id].load()) {
            ++n_accepted;
            ASSERT_EQ(t.deliveries[id].load(), 1u) << "accepted request " << id;
        } else {
            ASSERT_EQ(t.deliveries[id].load(), 0u) << "refused request " << id;
        }
    }
    EXPECT_GT(n_accepted, 0u);
    EXPECT_LT(n_accepted, uint64_t{kSubmitters} * kPerSubmitter) << "close refused the rest";
    EXPECT_EQ(t.delivered.load(), n_accepted);
    EXPECT_EQ(completed_total(), n_accepted);
    EXPECT_EQ(lane_->stats().cancelled, cancels_ok.load());
    EXPECT_GT(lane_->stats().closed, 0u);
    EXPECT_EQ(t.bad_values.load(), 0u);
    EXPECT_EQ(t.destroyed.load(), t.created.load()) << "every request object was freed";
    EXPECT_EQ(fake_->holding(), 0u);
}

TEST_F(LaneTest, ADeadlineFiresOnceForARequestTheExecutorNeverRuns) {
    Tracker &t = tracker(4);
    start();
    TrackedRequest *r = make(t, "hold", now_ns() + 2 * kMs);
    const uint64_t id = r->id;
    ASSERT_TRUE(lane_->submit(RequestRef(r), true).ok());
    t.wait_delivered(1);
    EXPECT_EQ(t.status[id].load(), static_cast<int>(Status::timeout));
    fake_->wait_processed(1);  // it let go of the request once told to stop
    EXPECT_EQ(fake_->stops(id), 1);
    EXPECT_EQ(lane_->stats().timed_out, 1u);
    EXPECT_EQ(service_->watched(), 0u);
    t.wait_destroyed(1);  // the service thread drops the heap's reference after firing
    EXPECT_FALSE(lane_->cancel(id).ok()) << "gone from the lane";
    close();
    EXPECT_EQ(t.deliveries[id].load(), 1u);
}

// THE DEADLINE-HEAP RELEASE: a request with a far deadline that completes at
// once must leave the service's heap, and be freed, at completion -- not an
// hour later when its deadline would have fired.
TEST_F(LaneTest, ACompletedRequestLeavesTheDeadlineHeapAtOnce) {
    for (bool defer : {false, true}) {
        SCOPED_TRACE(defer ? "deferred delivery" : "direct delivery");
        reset();
        constexpr uint32_t kRounds = 500;
        Tracker &t = tracker(kRounds + 1);
        start(0, defer);
        for (uint32_t i = 1; i <= kRounds; ++i) {
            ASSERT_TRUE(lane_->submit(RequestRef(make(t, "", now_ns() + kHour)), true).ok());
            fake_->wait_processed(i);  // completed, delivered and let go of by the fake
            ASSERT_EQ(t.delivered.load(), i);
            ASSERT_EQ(service_->watched(), 0u) << "round " << i << ": still in the deadline heap";
            ASSERT_EQ(t.destroyed.load(), i) << "round " << i << ": the request was not freed";
        }
        EXPECT_EQ(lane_->stats().completed, kRounds);
        close();
    }
}

// The same with requests submitted back to back from two threads while the
// executor is busy, so it takes each one while its submitter may still be
// inside submit().
TEST_F(LaneTest, RequestsCompletedWhileStillBeingSubmittedLeaveTheDeadlineHeap) {
    constexpr uint32_t kThreads = 2;
    constexpr uint32_t kEach = 10000;
    Tracker &t = tracker(kThreads * kEach + 1);
    start();
    // The service is shared by every lane of a runtime, so its lock is
    // contended; another user of it widens the window in which a submitter
    // sits between queueing its request and watching its deadline.
    std::atomic<bool> stop{false};
    std::thread other_user([&] {
        while (!stop.load()) (void)service_->watched();
    });
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < kThreads; ++i) {
        threads.emplace_back([&] {
            for (uint32_t k = 0; k < kEach; ++k)
                ASSERT_TRUE(lane_->submit(RequestRef(make(t, "", now_ns() + kHour)), true).ok());
        });
    }
    for (auto &th : threads) th.join();
    stop.store(true);
    other_user.join();
    fake_->wait_processed(kThreads * kEach);
    EXPECT_EQ(lane_->stats().completed, kThreads * kEach);
    EXPECT_EQ(service_->watched(), 0u) << "completed requests still held by the deadline heap";
    EXPECT_EQ(t.destroyed.load(), kThreads * kEach) << "completed requests not freed";
    close();
}

TEST_F(LaneTest, RunSyncReturnsTheOutcome) {
    Tracker &t = tracker(8);
    start();
    Outcome ok = lane_->run_sync(RequestRef(make(t, "", 0, false)));
    EXPECT_TRUE(ok.error.ok()) << ok.error.message;
    EXPECT_EQ(to_hex(ok.value), "01");
    Outcome failed = lane_->run_sync(RequestRef(make(t, "fail", now_ns() + kHour, false)));
    EXPECT_EQ(failed.error.status, Status::python);
    EXPECT_EQ(failed.error.message, "the fake executor failed it");
    EXPECT_EQ(lane_->stats().completed, 1u);
    EXPECT_EQ(lane_->stats().failed, 1u);
    EXPECT_EQ(t.delivered.load(), 0u) << "sync requests have no sink";
    fake_->wait_processed(2);
    EXPECT_EQ(t.destroyed.load(), 2u);
}

TEST_F(LaneTest, ASyncRequestNeverRunTimesOutExactlyOnceAndTheExecutorIsToldToStop) {
    constexpr int kThreads = 4;
    constexpr int kEach = 25;
    Tracker &t = tracker(kThreads * kEach + 1);
    start();
    std::atomic<int> timeouts{0};
    std::vector<std::thread> threads;
    std::vector<std::vector<uint64_t>> ids(kThreads);
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            for (int k = 0; k < kEach; ++k) {
                TrackedRequest *r = make(t, "hold", now_ns() + (k % 3) * kMs, false);
                ids[i].push_back(r->id);
                Outcome out = lane_->run_sync(RequestRef(r));
                if (out.error.status == Status::timeout) timeouts.fetch_add(1);
                EXPECT_EQ(out.error.message, "the request timed out");
            }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(timeouts.load(), kThreads * kEach);
    EXPECT_EQ(lane_->stats().timed_out, uint64_t{kThreads} * kEach);
    EXPECT_EQ(completed_total(), uint64_t{kThreads} * kEach);
    for (auto &list : ids)
        for (uint64_t id : list) EXPECT_EQ(fake_->stops(id), 1) << id;
    close();
    EXPECT_EQ(t.destroyed.load(), t.created.load());
}

TEST_F(LaneTest, WaitTimesOutASubmittedRequestAndLeavesTheOutcomeInIt) {
    Tracker &t = tracker(4);
    start();
    TrackedRequest *r = make(t, "hold", 0, false);
    r->retain();  // ours, beside the queue's
    ASSERT_TRUE(lane_->submit(RequestRef(r), false).ok());
    lane_->wait(r, now_ns() + 3 * kMs);
    EXPECT_TRUE(r->is_done());
    EXPECT_EQ(r->outcome.error.status, Status::timeout);
    EXPECT_EQ(fake_->stops(r->id), 1);
    // Waiting again returns at once with the same outcome.
    lane_->wait(r, now_ns() + 3 * kMs);
    EXPECT_EQ(r->outcome.error.status, Status::timeout);
    EXPECT_EQ(lane_->stats().timed_out, 1u);
    r->release();
}

TEST_F(LaneTest, ASyncRequestIsCancelledFromAnotherThread) {
    Tracker &t = tracker(4);
    start();
    TrackedRequest *r = make(t, "hold", 0, false);
    const uint64_t id = r->id;
    Outcome out;
    std::thread waiter([&] { out = lane_->run_sync(RequestRef(r)); });
    while (fake_->holding() == 0) std::this_thread::yield();  // it is running now
    EXPECT_TRUE(lane_->cancel(id).ok());
    waiter.join();
    EXPECT_EQ(out.error.status, Status::cancelled);
    EXPECT_EQ(fake_->stops(id), 1);
    const Error again = lane_->cancel(id);
    EXPECT_EQ(again.status, Status::not_found);
    EXPECT_EQ(lane_->cancel(999).status, Status::not_found);
    EXPECT_EQ(lane_->stats().cancelled, 1u);
}

TEST_F(LaneTest, SyncTimeoutsAndCancelsRaceToExactlyOneOutcome) {
    constexpr int kThreads = 3;
    constexpr int kEach = 100;
    Tracker &t = tracker(kThreads * kEach + 1);
    start();
    std::atomic<bool> stop{false};
    std::atomic<int> cancelled{0}, timed_out{0}, other{0};
    std::thread canceller([&] {
        std::mt19937_64 rng(3);
        while (!stop.load()) lane_->cancel(1 + rng() % (kThreads * kEach));
    });
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            std::mt19937_64 rng(50 + i);
            for (int k = 0; k < kEach; ++k) {
                const int64_t deadline = now_ns() + static_cast<int64_t>(rng() % (2 * kMs));
                Outcome out = lane_->run_sync(RequestRef(make(t, "hold", deadline, false)));
                if (out.error.status == Status::cancelled) {
                    cancelled.fetch_add(1);
                } else if (out.error.status == Status::timeout) {
                    timed_out.fetch_add(1);
                } else {
                    other.fetch_add(1);
                }
            }
        });
    }
    for (auto &th : threads) th.join();
    stop.store(true);
    canceller.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(cancelled.load() + timed_out.load(), kThreads * kEach);
    EXPECT_EQ(lane_->stats().cancelled, static_cast<uint64_t>(cancelled.load()));
    EXPECT_EQ(lane_->stats().timed_out, static_cast<uint64_t>(timed_out.load()));
    EXPECT_EQ(fake_->stopped_total(), static_cast<size_t>(kThreads * kEach))
        << "told to stop exactly once per request";
}

TEST_F(LaneTest, RefusalsWhenTheQueueIsFullNeverComplete) {
    constexpr size_t kCapacity = 4;
    Tracker &t = tracker(64);
    start(kCapacity);
    fake_->pause();
    // pause() is seen by the fake between requests: it may still take the
    // first one (the bounds below allow for that).
    std::vector<uint64_t> ok_ids, refused_ids;
    for (int i = 0; i < 14; ++i) {
        TrackedRequest *r = make(t, "", now_ns() + kHour);
        const uint64_t id = r->id;
        const Error e = lane_->submit(RequestRef(r), true);
        if (e.ok()) {
            ok_ids.push_back(id);
        } else {
            EXPECT_EQ(e.status, Status::queue_full);
            EXPECT_EQ(e.message, "context 'unit' queue is full");
            refused_ids.push_back(id);
        }
    }
    ASSERT_GE(ok_ids.size(), kCapacity);
    ASSERT_LE(ok_ids.size(), kCapacity + 1);
    EXPECT_EQ(t.destroyed.load(), refused_ids.size())
        << "a refused request holds no reference of the lane's (nor of the deadline watch)";
    EXPECT_EQ(service_->watched(), ok_ids.size());
    Outcome sync = lane_->run_sync(RequestRef(make(t, "", 0, false)));
    EXPECT_EQ(sync.error.status, Status::queue_full);

    fake_->resume();
    t.wait_delivered(static_cast<uint32_t>(ok_ids.size()));
    close();
    for (uint64_t id : ok_ids) EXPECT_EQ(t.deliveries[id].load(), 1u) << id;
    for (uint64_t id : refused_ids) EXPECT_EQ(t.deliveries[id].load(), 0u) << id;
    EXPECT_EQ(completed_total(), ok_ids.size());
    EXPECT_EQ(t.destroyed.load(), t.created.load());
}

TEST_F(LaneTest, SubmitBatchAcceptsWhatFitsAndTheRefusedNeverComplete) {
    constexpr size_t kCapacity = 6;
    Tracker &t = tracker(64);
    start(kCapacity);
    fake_->pause();
    std::vector<TrackedRequest *> batch;
    for (int i = 0; i < 10; ++i)
        batch.push_back(make(t, i % 2 ? "fail" : "", i % 3 ? now_ns() + kHour : 0));
    std::vector<uint64_t> ids;
    for (auto *r : batch) ids.push_back(r->id);
    size_t accepted = 99;
    std::vector<Request *> as_requests(batch.begin(), batch.end());
    const Error e = lane_->submit_batch(as_requests.data(), as_requests.size(), &accepted);
    // The fake may have taken one before its pause took effect.
    ASSERT_GE(accepted, kCapacity);
    ASSERT_LE(accepted, kCapacity + 1);
    EXPECT_EQ(e.status, Status::queue_full);
    size_t watched = 0;
    for (size_t i = 0; i < accepted; ++i) watched += batch[i]->deadline_ns != 0;
    EXPECT_EQ(service_->watched(), watched) << "only accepted requests are watched";
    // Refused requests are still the caller's, and hold nothing of the lane.
    for (size_t i = accepted; i < batch.size(); ++i) {
        EXPECT_EQ(batch[i]->refs.load(), 1u);
        EXPECT_FALSE(batch[i]->deadline_watched.load());
        batch[i]->release();
    }
    EXPECT_EQ(t.destroyed.load(), batch.size() - accepted);
    fake_->resume();
    t.wait_delivered(static_cast<uint32_t>(accepted));
    close();
    for (size_t i = 0; i < ids.size(); ++i)
        EXPECT_EQ(t.deliveries[ids[i]].load(), i < accepted ? 1u : 0u) << ids[i];
    EXPECT_EQ(t.bad_values.load(), 0u);
    EXPECT_EQ(service_->watched(), 0u);
    EXPECT_EQ(t.destroyed.load(), t.created.load());
    size_t none = 99;
    EXPECT_EQ(lane_->submit_batch(nullptr, 0, &none).status, Status::closed);
    EXPECT_EQ(none, 0u);
}

TEST_F(LaneTest, WaitDoneGivesUpAtTheDeadlineWithoutCompleting) {
    Tracker &t = tracker(4);
    start();
    TrackedRequest *r = make(t, "hold", 0, false);
    r->retain();  // ours, beside the queue's
    const uint64_t id = r->id;
    ASSERT_TRUE(lane_->submit(RequestRef(r), false).ok());
    EXPECT_FALSE(lane_->wait_done(r, now_ns() + 2 * kMs));
    EXPECT_FALSE(r->is_claimed()) << "wait_done never completes the request";
    EXPECT_EQ(fake_->stops(id), 0);
    EXPECT_TRUE(lane_->cancel(id).ok());
    EXPECT_TRUE(lane_->wait_done(r, now_ns() + kHour));
    EXPECT_EQ(r->outcome.error.status, Status::cancelled);
    EXPECT_EQ(fake_->stops(id), 1);
    r->release();
}

TEST_F(LaneTest, AfterCloseRequestsAreRefusedAndQueuedOnesCompleteAsClosed) {
    Tracker &t = tracker(32);
    start();
    fake_->pause();
    std::vector<uint64_t> queued;
    for (int i = 0; i < 5; ++i) {
        TrackedRequest *r = make(t);
        queued.push_back(r->id);
        ASSERT_TRUE(lane_->submit(RequestRef(r), false).ok());
    }
    EXPECT_TRUE(lane_->begin_close());
    EXPECT_FALSE(lane_->begin_close()) << "already closing";
    TrackedRequest *late = make(t);
    const uint64_t late_id = late->id;
    const Error e = lane_->submit(RequestRef(late), true);
    EXPECT_EQ(e.status, Status::closed);
    EXPECT_EQ(e.message, "context 'unit' is closed");
    Outcome sync = lane_->run_sync(RequestRef(make(t, "", 0, false)));
    EXPECT_EQ(sync.error.status, Status::closed);
    fake_->resume();
    close();
    // At most one was taken before the pause; the rest completed as closed.
    uint64_t closed = 0;
    for (uint64_t id : queued) {
        EXPECT_EQ(t.deliveries[id].load(), 1u) << id;
        closed += t.status[id].load() == static_cast<int>(Status::closed);
    }
    EXPECT_GE(closed, queued.size() - 1);
    EXPECT_EQ(t.deliveries[late_id].load(), 0u);
    EXPECT_EQ(t.destroyed.load(), t.created.load());
}

}  // namespace
}  // namespace pyctx::unit
