#include "core/host/log_sink.h"

#include <chrono>

#include "core/engine/thread_name.h"

namespace pyctx::core {

LogSink &log_sink() {
    static LogSink *sink = new LogSink();  // outlives static teardown
    return *sink;
}

void LogSink::set_handler(std::shared_ptr<LogHandler> handler, int min_level, size_t capacity) {
    // Released after the lock; the dispatcher holds its own reference while
    // it calls a handler, so the finalizer never runs under it.
    std::shared_ptr<LogHandler> old;
    std::lock_guard lock(mu_);
    old = std::move(handler_);
    handler_ = std::move(handler);
    capacity_ = capacity ? capacity : 1;
    min_level_.store(min_level, std::memory_order_relaxed);
    enabled_.store(handler_ != nullptr, std::memory_order_release);
    if (!handler_) {
        dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
        queue_.clear();
    }
    if (handler_ && !thread_.joinable()) {
        stop_ = false;
        thread_ = std::thread([this] { run(); });
    }
}

bool LogSink::push(LogRecord record) {
    if (forward_) return forward_(record);
    std::lock_guard lock(mu_);
    if (!handler_ || queue_.size() >= capacity_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    queue_.push_back(std::move(record));
    cv_.notify_one();
    return true;
}

bool LogSink::flush(uint32_t timeout_ms) {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return queue_.empty() && !busy_; });
}

void LogSink::run() {
    name_this_thread("pyctx-log");
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping, all delivered
        LogRecord r = std::move(queue_.front());
        queue_.pop_front();
        std::shared_ptr<LogHandler> h = handler_;
        busy_ = true;
        lock.unlock();
        if (h) h->handle(r);
        h.reset();
        lock.lock();
        busy_ = false;
        delivered_.fetch_add(1, std::memory_order_relaxed);
        idle_cv_.notify_all();
    }
}

void LogSink::shutdown() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    set_handler(nullptr, 0, 0);
}

}  // namespace pyctx::core
