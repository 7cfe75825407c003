#include "core/host/channel.h"

#include <chrono>

#include "core/base/futex.h"
#include "core/host/host_call.h"

namespace pyctx::core {

namespace {

const uint8_t kNull = 0xf6;  // what a wake-up token is answered with

std::cv_status wait_until(std::condition_variable &cv, std::unique_lock<std::mutex> &lock,
                          int64_t deadline_ns) {
    if (deadline_ns < 0) {
        cv.wait(lock);
        return std::cv_status::no_timeout;
    }
    int64_t left = deadline_ns - now_ns();
    if (left <= 0) return std::cv_status::timeout;
    return cv.wait_for(lock, std::chrono::nanoseconds(left));
}

}  // namespace

Channel::~Channel() {
    // Nobody can reach the channel any more; tokens still here belong to
    // Python waiters that gave up: answer them so they are released.
    wake_all(std::move(py_readers_));
    wake_all(std::move(py_writers_));
}

void Channel::wake_all(std::deque<HostCall *> waiters) {
    for (HostCall *t : waiters) host_call_return(t, &kNull, 1);
}

Error Channel::host_send(std::string value, int64_t deadline_ns) {
    std::unique_lock lock(mu_);
    for (;;) {
        if (closed_) return Error(Status::closed, "the channel is closed");
        if (to_python_.size() < capacity_) break;
        if (deadline_ns == 0) return Error(Status::queue_full, "the channel is full");
        if (wait_until(host_cv_, lock, deadline_ns) == std::cv_status::timeout && !closed_ &&
            to_python_.size() >= capacity_)
            return Error(Status::timeout, "the channel stayed full until the timeout");
    }
    to_python_.push_back(std::move(value));
    std::deque<HostCall *> readers;
    readers.swap(py_readers_);
    lock.unlock();
    wake_all(std::move(readers));
    return {};
}

Error Channel::host_recv(std::string *out, int64_t deadline_ns) {
    std::unique_lock lock(mu_);
    for (;;) {
        if (!to_host_.empty()) break;
        if (closed_) return Error(Status::closed, "the channel is closed");
        if (deadline_ns == 0) return Error(Status::timeout, "no value waiting");
        if (wait_until(host_cv_, lock, deadline_ns) == std::cv_status::timeout && to_host_.empty() &&
            !closed_)
            return Error(Status::timeout, "no value before the timeout");
    }
    *out = std::move(to_host_.front());
    to_host_.pop_front();
    ++from_python_count_;
    std::deque<HostCall *> writers;  // a credit for the waiting Python senders
    writers.swap(py_writers_);
    lock.unlock();
    wake_all(std::move(writers));
    return {};
}

Channel::Result Channel::python_try_recv(std::string *out, size_t max_len, size_t *oversized) {
    std::unique_lock lock(mu_);
    if (to_python_.empty()) return closed_ ? Result::closed : Result::would_block;
    if (to_python_.front().size() > max_len) {
        if (oversized) *oversized = to_python_.front().size();
        return Result::would_block;
    }
    *out = std::move(to_python_.front());
    to_python_.pop_front();
    ++to_python_count_;
    host_cv_.notify_all();  // a credit for a waiting host sender
    return Result::ok;
}

Channel::Result Channel::python_try_send(std::string &value) {
    std::unique_lock lock(mu_);
    if (closed_) return Result::closed;
    if (to_host_.size() >= capacity_) return Result::would_block;
    to_host_.push_back(std::move(value));
    host_cv_.notify_all();
    return Result::ok;
}

bool Channel::python_wait_readable(HostCall *token) {
    std::lock_guard lock(mu_);
    if (!to_python_.empty() || closed_) return false;
    py_readers_.push_back(token);
    return true;
}

bool Channel::python_wait_writable(HostCall *token) {
    std::lock_guard lock(mu_);
    if (to_host_.size() < capacity_ || closed_) return false;
    py_writers_.push_back(token);
    return true;
}

void Channel::close() {
    std::deque<HostCall *> readers, writers;
    {
        std::lock_guard lock(mu_);
        if (closed_) return;
        closed_ = true;
        readers.swap(py_readers_);
        writers.swap(py_writers_);
        host_cv_.notify_all();
    }
    wake_all(std::move(readers));
    wake_all(std::move(writers));
}

bool Channel::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

Channel::Stats Channel::stats() const {
    std::lock_guard lock(mu_);
    return Stats{to_python_count_, from_python_count_, to_python_.size(), to_host_.size()};
}

ChannelRegistry &channels() {
    static ChannelRegistry *registry = new ChannelRegistry();  // outlives static teardown
    return *registry;
}

std::shared_ptr<Channel> ChannelRegistry::create(size_t capacity, bool bytes) {
    std::lock_guard lock(mu_);
    auto ch = std::make_shared<Channel>(++next_, capacity, bytes);
    map_[ch->id()] = ch;
    return ch;
}

std::shared_ptr<Channel> ChannelRegistry::find(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second.lock();
}

void ChannelRegistry::remove(uint64_t id) {
    std::lock_guard lock(mu_);
    map_.erase(id);
}

}  // namespace pyctx::core
