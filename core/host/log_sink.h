// Python logging records on their way to the host: a bounded queue that
// Python threads push into without ever waiting (a full queue drops the
// record and counts it), drained by one library thread that calls the
// host's handler with no GIL and no library lock held. No Python here: the
// Python side (core/python/log_py.cpp) is a logging.Handler in each
// interpreter that calls pyctx._log().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace pyctx::core {

struct LogRecord {
    int level = 0;
    std::string logger, message, exception, context_name;
    double created = 0;  // time.time() of the record
};

// The host's handler (the C API subclasses it; its destructor runs the
// user data's finalizer once the dispatcher no longer uses it).
class LogHandler {
public:
    virtual ~LogHandler() = default;
    virtual void handle(const LogRecord &r) = 0;
};

class LogSink {
public:
    // Replaces the handler (nullptr: none; records are then not taken).
    // The old one is released after any record it is handling.
    void set_handler(std::shared_ptr<LogHandler> handler, int min_level, size_t capacity);
    // Cheap check before building a record.
    bool wants(int level) const {
        return forward_ || (enabled_.load(std::memory_order_acquire) &&
                            level >= min_level_.load(std::memory_order_relaxed));
    }
    // Never blocks: false when the record was dropped (queue full, or no
    // handler).
    bool push(LogRecord record);
    // A process context's child has no handler of its own: every record
    // goes to `forward` (which hands it to the host, whose sink filters,
    // queues or drops it). Set once, before Python runs.
    using Forward = bool (*)(const LogRecord &record);
    void set_forward(Forward forward) { forward_ = forward; }
    // Waits until every record taken so far is handled or dropped; false
    // after timeout_ms.
    bool flush(uint32_t timeout_ms);
    uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
    // Runtime shutdown: delivers what is queued, releases the handler,
    // stops the thread.
    void shutdown();

private:
    void run();

    std::mutex mu_;
    std::condition_variable cv_, idle_cv_;
    std::deque<LogRecord> queue_;
    size_t capacity_ = 0;
    bool busy_ = false;  // the dispatcher is inside the handler
    bool stop_ = false;
    std::shared_ptr<LogHandler> handler_;
    std::thread thread_;
    std::atomic<bool> enabled_{false};
    std::atomic<int> min_level_{0};
    Forward forward_ = nullptr;
    std::atomic<uint64_t> delivered_{0}, dropped_{0};
};

LogSink &log_sink();

}  // namespace pyctx::core
