// A fake core::Executor for driving a core::Lane without Python: one thread
// takes requests off the lane's queue and "runs" each by producing a CBOR
// value (the request id as an unsigned integer), completing it through
// lane.complete(..., Origin::executor). What a request does is chosen by its
// text:
//   ""      run at once
//   "hold"  never run: it stays running until someone else claims it (then
//           the fake lets go of it, as an interrupted executor would)
//   "fail"  complete with a Python-status error
// stop_claimed is recorded per id (the tests check who was told to stop).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/base/futex.h"
#include "core/cbor/writer.h"
#include "core/engine/executor.h"
#include "core/engine/lane.h"

namespace pyctx::unit {

class FakeExecutor final : public core::Executor {
public:
    // With `defer`, outcomes decided on the fake's thread are batched and
    // delivered after each request (as the in-process executor does while
    // it holds the GIL); otherwise the lane delivers them at once.
    explicit FakeExecutor(core::Lane &lane, bool defer = false) : lane_(lane), defer_(defer) {}
    ~FakeExecutor() override {
        if (thread_.joinable()) thread_.join();
    }

    // While paused the fake takes nothing off the queue (to fill it up).
    void pause() { paused_.store(1); }
    void resume() {
        paused_.store(0);
        core::futex_wake_all(paused_);
        wake();
    }

    // How often stop_claimed was called for `id`.
    int stops(uint64_t id) {
        std::lock_guard lock(mu_);
        auto it = stopped_.find(id);
        return it == stopped_.end() ? 0 : it->second;
    }
    size_t stopped_total() {
        std::lock_guard lock(mu_);
        size_t n = 0;
        for (auto &[id, count] : stopped_) n += static_cast<size_t>(count);
        return n;
    }
    // Requests taken off the queue, delivered (when the fake delivers them)
    // and let go of so far.
    uint32_t processed() const { return processed_.load(std::memory_order_acquire); }
    // Waits until processed() >= n.
    void wait_processed(uint32_t n) {
        for (uint32_t v = processed_.load(); v < n; v = processed_.load())
            core::futex_wait(processed_, v);
    }
    // Requests it currently holds (taken, not run, not yet claimed by others).
    uint32_t holding() const { return holding_.load(std::memory_order_acquire); }

    // ---- core::Executor ----
    core::Error start() override {
        thread_ = std::thread([this] { main(); });
        return {};
    }
    void wake() override {
        word_.fetch_add(1, std::memory_order_seq_cst);
        core::futex_wake(word_);
    }
    void stop_claimed(core::Request *r) override {
        {
            std::lock_guard lock(mu_);
            ++stopped_[r->id];
        }
        wake();  // a held request may be let go of now
    }
    bool defer_delivery(core::Request *r) override {
        if (!defer_ || !on_own_thread()) return false;
        r->retain();
        deferred_.push_back(r);
        return true;
    }
    bool on_own_thread() const override {
        return std::this_thread::get_id() == own_id_.load(std::memory_order_acquire);
    }
    core::Outcome run_nested(core::Request *r) override { return produce(r); }
    bool serve_until_done(core::Request *) override { return false; }
    void release_env(uint64_t) override {}
    void begin_close() override { wake(); }
    // The fake runs no Python: it has left "Python" once its loop is over.
    bool wait_left_python(int64_t deadline_ns) override { return wait_loop_over(deadline_ns); }
    bool wait_exited(int64_t deadline_ns) override {
        if (!wait_loop_over(deadline_ns)) return false;
        if (thread_.joinable()) thread_.join();
        return true;
    }
    bool has_exited() const override { return exited_.load(std::memory_order_acquire) != 0; }
    void abandon() override {}
    uint64_t thread_id() const override { return 1; }

private:
    static core::Outcome produce(core::Request *r) {
        core::Outcome out;
        if (r->text == "fail") {
            out.error = core::Error(core::Status::python, "the fake executor failed it");
            return out;
        }
        if (!core::cbor::write_uint(out.value, r->id))
            out.error = core::Error(core::Status::no_memory, "out of memory");
        return out;
    }

    bool wait_loop_over(int64_t deadline_ns) {
        while (exited_.load(std::memory_order_acquire) == 0) {
            const int64_t remaining = deadline_ns - core::now_ns();
            if (remaining <= 0) return false;
            core::futex_wait(exited_, 0, remaining);
        }
        return true;
    }

    void let_go(core::Request *r) {
        lane_.queue().end_running(r);
        if (r->phase.load() == core::Phase::running) r->phase.store(core::Phase::finished);
        r->release();
    }

    void count_processed() {
        processed_.fetch_add(1, std::memory_order_release);
        core::futex_wake_all(processed_);
    }

    void flush() {
        std::vector<core::Request *> batch;
        batch.swap(deferred_);
        for (core::Request *r : batch) {
            core::Lane::deliver(r);
            r->release();
        }
    }

    // Lets go of held requests someone else has claimed meanwhile.
    void sweep() {
        // One look at each request's claim: it may be claimed any moment.
        std::vector<core::Request *> still;
        for (core::Request *r : held_) {
            if (r->is_claimed()) {
                let_go(r);
                count_processed();
            } else {
                still.push_back(r);
            }
        }
        held_.swap(still);
        holding_.store(static_cast<uint32_t>(held_.size()), std::memory_order_release);
    }

    void process(core::Request *r) {
        if (r->is_control()) {
            r->release();
            return;
        }
        r->phase.store(core::Phase::running, std::memory_order_seq_cst);
        if (!r->is_claimed() && r->text == "hold") {
            held_.push_back(r);
            holding_.store(static_cast<uint32_t>(held_.size()), std::memory_order_release);
            return;
        }
        if (!r->is_claimed()) lane_.complete(r, produce(r), core::Origin::executor);
        let_go(r);
        flush();
        count_processed();
    }

    void main() {
        own_id_.store(std::this_thread::get_id(), std::memory_order_release);
        core::RequestQueue &queue = lane_.queue();
        for (;;) {
            while (paused_.load() != 0) core::futex_wait(paused_, 1);
            const uint32_t seen = word_.load(std::memory_order_seq_cst);
            while (!lane_.is_closing() && paused_.load() == 0) {
                core::Request *r = queue.pop_to_running();
                if (!r) break;
                process(r);
            }
            sweep();
            if (lane_.is_closing()) break;
            // Like the in-process executor: spin a little before parking, so
            // a request submitted meanwhile is taken at once, before its
            // submitter's wake() (which races with the rest of submit).
            if (idle_spin_.spin([&] { return queue.has_work() || lane_.is_closing(); })) continue;
            if (paused_.load() == 0 && !queue.has_work()) core::futex_wait(word_, seen);
        }
        // As a real executor does: what is still queued completes as closed.
        lane_.complete_all_as_closed(core::Origin::executor);
        flush();
        lane_.queue().close_control();
        lane_.complete_all_as_closed(core::Origin::library_thread);
        // begin_close claimed every request running when it began; one taken
        // off the queue just after that is still ours: an executor that
        // exits completes what it holds, so nothing outlives it.
        for (core::Request *r : held_)
            lane_.complete(r, core::Outcome{core::Error(core::Status::closed, "fake exited"), {}},
                           core::Origin::library_thread);
        sweep();
        exited_.store(1, std::memory_order_release);
        core::futex_wake_all(exited_);
    }

    core::Lane &lane_;
    const bool defer_;
    std::thread thread_;
    std::atomic<std::thread::id> own_id_{};
    std::atomic<uint32_t> word_{0};
    std::atomic<uint32_t> paused_{0};
    std::atomic<uint32_t> exited_{0};
    std::atomic<uint32_t> processed_{0};
    std::atomic<uint32_t> holding_{0};
    core::AdaptiveSpin idle_spin_;            // the fake's thread only
    std::vector<core::Request *> held_;      // the fake's thread only
    std::vector<core::Request *> deferred_;  // the fake's thread only
    std::mutex mu_;
    std::unordered_map<uint64_t, int> stopped_;
};

}  // namespace pyctx::unit
