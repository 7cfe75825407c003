#include "core/engine/service.h"

#include "core/base/futex.h"
#include "core/engine/lane.h"
#include "core/engine/thread_name.h"

namespace pyctx::core {

void Service::start() {
    thread_ = std::thread([this] {
        name_this_thread("pyctx-service");
        main();
    });
}

void Service::stop() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Service::post_delivery(Request *claimed) {
    {
        std::lock_guard lock(mu_);
        if (!exited_) {
            deliveries_.push_back(claimed);
            claimed = nullptr;
        }
    }
    if (claimed) {
        // The service thread is gone (very late in shutdown): deliver here.
        Lane::deliver(claimed);
        claimed->release();
        return;
    }
    cv_.notify_one();
}

void Service::watch(Request *r, Lane *lane, std::weak_ptr<void> owner) {
    bool earliest = false;
    bool dropped = false;
    {
        std::lock_guard lock(mu_);
        // A request can complete between being queued and being watched
        // (its executor took it at once, the submitter was preempted). Its
        // finish() then looked for it here before it arrived: it must not go
        // in now, or it stays (with its result) until its deadline. The claim
        // precedes that unwatch, so under this lock it is visible.
        if (exited_ || r->is_claimed()) {
            dropped = true;
        } else {
            deadlines_.push(r, lane, std::move(owner));
            earliest = r->deadline_slot == 0;
        }
    }
    if (dropped) {
        r->release();
        return;
    }
    if (earliest) cv_.notify_one();
}

void Service::unwatch(Request *r) {
    bool removed;
    {
        std::lock_guard lock(mu_);
        removed = deadlines_.remove(r);
    }
    // The caller holds its own reference, so this is never the last one
    // while the caller still uses `r`.
    if (removed) r->release();
}

size_t Service::watched() {
    std::lock_guard lock(mu_);
    return deadlines_.size();
}

void Service::main() {
    std::unique_lock lock(mu_);
    for (;;) {
        if (!deliveries_.empty()) {
            std::vector<Request *> batch;
            batch.swap(deliveries_);
            lock.unlock();
            for (Request *r : batch) {
                Lane::deliver(r);
                r->release();
            }
            lock.lock();
            continue;
        }
        int64_t now = now_ns();
        if (!deadlines_.empty() && deadlines_.earliest() <= now) {
            DeadlineHeap::Entry e = deadlines_.pop();
            lock.unlock();
            if (!e.request->is_claimed()) {
                if (auto owner = e.owner.lock()) e.lane->expire(e.request);
            }
            e.request->release();
            lock.lock();
            continue;
        }
        if (stop_) {
            for (auto &e : deadlines_.take_all()) e.request->release();
            exited_ = true;
            return;
        }
        if (deadlines_.empty()) {
            cv_.wait(lock);
        } else {
            cv_.wait_for(lock, std::chrono::nanoseconds(deadlines_.earliest() - now));
        }
    }
}

}  // namespace pyctx::core
