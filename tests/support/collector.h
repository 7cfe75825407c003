// Records asynchronous completions so tests can assert on them from the test
// thread: which id, what status and value, on which thread, and whether the
// callback ran inside the submitting call.
#pragma once

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/handles.h"

namespace pyctx_test {

/** Set while the current thread is inside a submitting call (see SubmitScope). */
inline thread_local bool t_inside_submit = false;

/** Marks the current thread as "inside a submit" for its lifetime, so a
 *  completion invoked synchronously from the submit call is detected. */
struct SubmitScope {
    SubmitScope() { t_inside_submit = true; }
    ~SubmitScope() { t_inside_submit = false; }
    SubmitScope(const SubmitScope &) = delete;
    SubmitScope &operator=(const SubmitScope &) = delete;
};

inline pid_t current_tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

struct Completion {
    uint64_t request_id = 0;
    pyctx_status status = PYCTX_OK;
    std::vector<uint8_t> value;
    bool has_value = false;
    std::string message, python_type, traceback;
    pthread_t thread{};
    pid_t tid = 0;
    bool inside_submit = false;
};

class Collector {
public:
    static constexpr std::chrono::milliseconds kGuard{10000};

    pyctx_completion_fn fn() const { return &Collector::on_complete; }
    void *user_data() { return this; }

    /** Waits until at least `n` completions arrived (false after `guard`). */
    bool wait_for(size_t n, std::chrono::milliseconds guard = kGuard) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, guard, [&] { return done_.size() >= n; });
    }

    size_t count() {
        std::lock_guard<std::mutex> lock(mu_);
        return done_.size();
    }

    std::vector<Completion> all() {
        std::lock_guard<std::mutex> lock(mu_);
        return done_;
    }

    std::optional<Completion> find(uint64_t id) {
        std::lock_guard<std::mutex> lock(mu_);
        for (const Completion &c : done_)
            if (c.request_id == id) return c;
        return std::nullopt;
    }

    /** Completions delivered more than once for the same id. */
    size_t duplicates() {
        std::lock_guard<std::mutex> lock(mu_);
        size_t dups = 0;
        for (size_t i = 0; i < done_.size(); ++i)
            for (size_t j = i + 1; j < done_.size(); ++j)
                dups += done_[i].request_id == done_[j].request_id;
        return dups;
    }

    /** Results are kept (not freed in the callback) when asked, so a test can
     *  use the pyctx_result_* accessors and free them on another thread. */
    void keep_results(bool keep) { keep_results_ = keep; }
    Result take_result(uint64_t id) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto &k : kept_)
            if (k.first == id) return std::move(k.second);
        return nullptr;
    }

    static void on_complete(void *user_data, uint64_t id, pyctx_result_t *raw) {
        static_cast<Collector *>(user_data)->record(id, raw);
    }

private:
    void record(uint64_t id, pyctx_result_t *raw) {
        Result result(raw);
        Completion c;
        c.request_id = id;
        c.thread = pthread_self();
        c.tid = current_tid();
        c.inside_submit = t_inside_submit;
        c.status = pyctx_result_status(result.get());
        size_t len = 0;
        const uint8_t *data = pyctx_result_value(result.get(), &len);
        if (data) {
            c.has_value = true;
            c.value.assign(data, data + len);
        }
        if (const pyctx_error_t *e = pyctx_result_error(result.get())) {
            c.message = pyctx_error_message(e);
            c.python_type = pyctx_error_python_type(e);
            c.traceback = pyctx_error_traceback(e);
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (keep_results_) kept_.emplace_back(id, std::move(result));
        done_.push_back(std::move(c));
        cv_.notify_all();
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Completion> done_;
    bool keep_results_ = false;
    std::vector<std::pair<uint64_t, Result>> kept_;
};

} // namespace pyctx_test
