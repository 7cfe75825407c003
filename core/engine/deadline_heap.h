// A min-heap of requests by deadline that can also remove any member in
// O(log n): each request records its slot (Request::deadline_slot), so a
// request that completes before its deadline leaves the heap at once,
// together with the reference the heap holds, instead of lingering (with
// its result buffer) until the deadline passes. Each entry also keeps a
// weak reference to whatever owns the request (its context), so firing a
// deadline never touches a context that is gone. Not synchronized: the
// service owns it under its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/request/request.h"

namespace pyctx::core {

class Lane;

class DeadlineHeap {
public:
    struct Entry {
        Request *request = nullptr;  // holds one reference
        Lane *lane = nullptr;        // valid while `owner` is alive
        std::weak_ptr<void> owner;
    };

    bool empty() const { return heap_.empty(); }
    size_t size() const { return heap_.size(); }
    int64_t earliest() const { return heap_.front().request->deadline_ns; }

    // Takes the caller's reference. `r` must not be in the heap.
    void push(Request *r, Lane *lane, std::weak_ptr<void> owner);
    // Removes `r` if it is in the heap and returns true; the heap's
    // reference then belongs to the caller.
    bool remove(Request *r);
    // Removes and returns the earliest (the reference moves to the caller).
    Entry pop();
    // Removes everything (references move to the caller).
    std::vector<Entry> take_all();

private:
    void place(size_t i, Entry e) {
        e.request->deadline_slot = static_cast<int32_t>(i);
        heap_[i] = std::move(e);
    }
    int64_t at(size_t i) const { return heap_[i].request->deadline_ns; }
    void sift_up(size_t i);
    void sift_down(size_t i);
    void remove_at(size_t i);
    std::vector<Entry> heap_;
};

}  // namespace pyctx::core
