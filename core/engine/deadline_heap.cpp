#include "core/engine/deadline_heap.h"

namespace pyctx::core {

void DeadlineHeap::push(Request *r, Lane *lane, std::weak_ptr<void> owner) {
    heap_.emplace_back();
    place(heap_.size() - 1, Entry{r, lane, std::move(owner)});
    sift_up(heap_.size() - 1);
}

void DeadlineHeap::remove_at(size_t i) {
    heap_[i].request->deadline_slot = -1;
    Entry last = std::move(heap_.back());
    heap_.pop_back();
    if (i < heap_.size()) {
        Request *moved = last.request;
        place(i, std::move(last));
        sift_up(i);  // then down from wherever it settled
        sift_down(static_cast<size_t>(moved->deadline_slot));
    }
}

bool DeadlineHeap::remove(Request *r) {
    int32_t slot = r->deadline_slot;
    if (slot < 0 || static_cast<size_t>(slot) >= heap_.size() || heap_[slot].request != r)
        return false;
    remove_at(static_cast<size_t>(slot));
    return true;
}

DeadlineHeap::Entry DeadlineHeap::pop() {
    Entry e = heap_.front();
    remove_at(0);
    return e;
}

std::vector<DeadlineHeap::Entry> DeadlineHeap::take_all() {
    for (auto &e : heap_) e.request->deadline_slot = -1;
    std::vector<Entry> out;
    out.swap(heap_);
    return out;
}

void DeadlineHeap::sift_up(size_t i) {
    Entry e = std::move(heap_[i]);
    const int64_t key = e.request->deadline_ns;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (at(parent) <= key) break;
        place(i, std::move(heap_[parent]));
        i = parent;
    }
    place(i, std::move(e));
}

void DeadlineHeap::sift_down(size_t i) {
    Entry e = std::move(heap_[i]);
    const int64_t key = e.request->deadline_ns;
    const size_t n = heap_.size();
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && at(child + 1) < at(child)) ++child;
        if (at(child) >= key) break;
        place(i, std::move(heap_[child]));
        i = child;
    }
    place(i, std::move(e));
}

}  // namespace pyctx::core
