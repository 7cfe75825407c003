// The runtime's service thread ("pyctx-service"): it delivers completions
// that were decided on a host thread (cancel, close), so a callback never
// runs inside the call that caused it, and it fires request deadlines.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/engine/deadline_heap.h"
#include "core/request/request.h"

namespace pyctx::core {

class Lane;

class Service {
public:
    void start();
    // Delivers what is pending, drops every watched deadline, and joins.
    void stop();

    // Delivers a claimed request (its outcome set) from the service thread.
    // Takes one reference.
    void post_delivery(Request *claimed);
    // Completes `r` as timed out at its deadline unless it completes first.
    // Takes one reference, which the caller added before the request became
    // visible to anyone else.
    void watch(Request *r, Lane *lane, std::weak_ptr<void> owner);
    // At completion: drops the watch (and its reference) if still held.
    void unwatch(Request *r);
    bool on_service_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
    // Requests whose deadline is watched now.
    size_t watched();

private:
    void main();

    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Request *> deliveries_;
    DeadlineHeap deadlines_;
    bool stop_ = false;
    bool exited_ = false;
};

}  // namespace pyctx::core
