#include "core/engine/request_queue.h"

#include <mutex>

namespace pyctx::core {

void RequestQueue::link(Request *r) {
    if (tail_) {
        tail_->next = r;
    } else {
        head_ = r;
    }
    tail_ = r;
    depth_.fetch_add(1, std::memory_order_seq_cst);
}

RequestQueue::Push RequestQueue::push(Request *r) {
    std::lock_guard lock(lock_);
    if (closed_.load(std::memory_order_relaxed)) return Push::closed;
    if (capacity_ && user_depth_ >= capacity_) return Push::full;
    ++user_depth_;
    link(r);
    return Push::ok;
}

RequestQueue::Push RequestQueue::push_batch(Request *const *rs, size_t count, size_t *pushed) {
    std::lock_guard lock(lock_);
    *pushed = 0;
    if (closed_.load(std::memory_order_relaxed)) return Push::closed;
    for (size_t i = 0; i < count; ++i) {
        if (capacity_ && user_depth_ >= capacity_) return Push::full;
        ++user_depth_;
        link(rs[i]);
        ++*pushed;
    }
    return Push::ok;
}

bool RequestQueue::push_control(Request *r) {
    std::lock_guard lock(lock_);
    if (!control_open_) return false;
    link(r);
    return true;
}

Request *RequestQueue::pop_to_running() {
    if (!has_work()) return nullptr;
    std::lock_guard lock(lock_);
    Request *r = head_;
    if (!r) return nullptr;
    head_ = r->next;
    if (!head_) tail_ = nullptr;
    r->next = nullptr;
    depth_.fetch_sub(1, std::memory_order_relaxed);
    if (!r->is_control()) {
        --user_depth_;
        std::lock_guard run_lock(run_lock_);
        running_.push_back(r);
    }
    return r;
}

void RequestQueue::push_running(Request *r) {
    std::lock_guard lock(run_lock_);
    running_.push_back(r);
}

uint64_t RequestQueue::end_running(Request *r) {
    std::lock_guard lock(run_lock_);
    if (!running_.empty() && running_.back() == r) {
        running_.pop_back();
    } else {
        std::erase(running_, r);
    }
    return running_.empty() ? 0 : running_.back()->id;
}

bool RequestQueue::mark_interrupt(uint64_t id) {
    std::lock_guard lock(run_lock_);
    if (running_.empty()) return false;
    Request *top = running_.back();
    if (top->id != id || top->host_waiting.load(std::memory_order_acquire)) return false;
    top->interrupt_posted.store(1, std::memory_order_release);
    return true;
}

void RequestQueue::running_retained(std::vector<Request *> &out) {
    std::lock_guard lock(run_lock_);
    for (Request *r : running_) {
        r->retain();
        out.push_back(r);
    }
}

void RequestQueue::add_task(Request *r) {
    r->retain();
    std::lock_guard lock(run_lock_);
    tasks_.insert(r->id, r);
}

Request *RequestQueue::take_task(uint64_t id) {
    std::lock_guard lock(run_lock_);
    Request *r = nullptr;
    return tasks_.erase(id, &r) ? r : nullptr;
}

bool RequestQueue::idle() const {
    std::lock_guard lock(lock_);
    std::lock_guard run_lock(run_lock_);
    return head_ == nullptr && running_.empty() && tasks_.empty();
}

Request *RequestQueue::find(uint64_t id) {
    std::lock_guard lock(lock_);
    std::lock_guard run_lock(run_lock_);
    Request *found = nullptr;
    for (Request *r = head_; r && !found; r = r->next)
        if (r->id == id && !r->is_control()) found = r;
    for (size_t i = 0; i < running_.size() && !found; ++i)
        if (running_[i]->id == id) found = running_[i];
    if (!found) {
        if (Request **task = tasks_.find(id)) found = *task;
    }
    if (found) found->retain();
    return found;
}

bool RequestQueue::close() {
    std::lock_guard lock(lock_);
    if (closed_.load(std::memory_order_relaxed)) return false;
    closed_.store(true, std::memory_order_release);
    return true;
}

void RequestQueue::close_control() {
    std::lock_guard lock(lock_);
    control_open_ = false;
}

void RequestQueue::take_all(std::vector<Request *> &queued, std::vector<Request *> &tasks) {
    std::lock_guard lock(lock_);
    std::lock_guard run_lock(run_lock_);
    for (Request *r = head_; r;) {
        Request *next = r->next;
        r->next = nullptr;
        queued.push_back(r);
        r = next;
    }
    head_ = tail_ = nullptr;
    depth_.store(0, std::memory_order_relaxed);
    user_depth_ = 0;
    tasks_.for_each([&](uint64_t, Request *r) {
        r->retain();
        tasks.push_back(r);
    });
}

}  // namespace pyctx::core
