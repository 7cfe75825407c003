// Per-interpreter memory caps for own-GIL contexts. Python's three allocator
// domains (raw, mem, object) are wrapped once for the whole process, the
// first time a capped context starts (wrapping the allocators already in
// place, which CPython allows after initialization). Each allocation is
// attributed to a cap by the calling thread: the capped context's own thread,
// or any thread whose thread state belongs to the capped interpreter (raw
// allocations may run with no thread state at all: those count only on the
// context thread). A capped context keeps a table of its live blocks and
// their requested sizes (how a free or realloc learns the size; blocks
// allocated before the hooks, or by threads not attributed, are simply not
// in it). Allocations that would take usage over the limit fail, which
// Python reports as MemoryError in that context only.
//
// Cost: nothing until the first capped context starts; after that every
// allocation of the process pays a thread-local lookup and an indirect call;
// allocations of a capped context also a table update under its lock.
// Allocations made inside C libraries (malloc directly) are not seen.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/base/error.h"
#include "core/base/spin_lock.h"

namespace pyctx::core {

class MemoryCap {
public:
    explicit MemoryCap(size_t limit);
    ~MemoryCap();
    MemoryCap(const MemoryCap &) = delete;
    MemoryCap &operator=(const MemoryCap &) = delete;

    size_t limit() const { return limit_; }
    // Bytes requested by live blocks attributed to this cap.
    size_t used() const {
        int64_t u = used_.load(std::memory_order_relaxed);
        return u < 0 ? 0 : static_cast<size_t>(u);
    }

    // Wraps the allocator domains (once per process). Any thread, no GIL.
    static bool install_hooks(Error *err);

    // The calling thread's allocations count against this cap from now on
    // (the context thread, before it creates its interpreter) ...
    void enter_thread();
    // ... and so do those of every thread of `interp` (once created).
    void attach_interpreter(void *interp);
    // Undoes both, on the same thread, after the interpreter has ended.
    void leave_thread();

    // ---- for the allocator hooks (memory_cap.cpp) ----
    bool reserve(size_t n);
    void release(size_t n) { used_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed); }
    bool track(void *p, size_t n);
    bool untrack(void *p, size_t *n);

private:
    struct Slot {
        uintptr_t key;
        size_t size;
    };
    bool grow();
    size_t slot_of(uintptr_t key) const;

    const size_t limit_;
    // Once an allocation was refused, small ones may go a little over the
    // limit so the MemoryError can be raised, formatted and unwound.
    const size_t overdraft_;
    std::atomic<int64_t> used_{0};
    std::atomic<bool> refused_{false};
    void *interp_ = nullptr;

    SpinLock lock_;  // guards the table
    Slot *slots_ = nullptr;
    size_t capacity_ = 0;  // a power of two
    size_t count_ = 0, tombstones_ = 0;
};

}  // namespace pyctx::core
