// Buffers that cross the boundary without a copy.
//
// A Buffer is the one owner of a block of memory lent across the boundary:
// what memory (the host's, the library's own, or a Python object's), its
// element layout, what ends the loan (the host's finalizer, freeing the
// library's allocation, or releasing the Python view on its context
// thread) and how many hold it (a reference count: the host's handle, each
// request it is attached to, each live Python view). The loan ends exactly
// once, when the last reference goes -- never while a Python view exists.
//
// A request refers to its buffers by index (AttachedBuffers), and the CBOR
// arguments name them by that index (tag kTagBuffer), never by pointer:
// that is what crosses an executor seam. An in-process executor turns an
// index into a memoryview over the memory itself; a process executor maps
// library memory of the shared arena (core/base/shared_arena.h) into its
// child and copies the rest into the arena.
//
// A BufferLedger belongs to one context: it counts the views alive there
// and queues the releases that must run on the context's thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/error.h"
#include "core/base/shared_arena.h"
#include "core/base/spin_lock.h"
#include "core/request/buffer_layout.h"

namespace pyctx::core {

class BufferLedger;

class Buffer {
public:
    enum class Memory : uint8_t {
        host = 0,     // the host's memory, lent with a finalizer
        library = 1,  // allocated by the library, 64-byte aligned (shareable later)
        python = 2,   // a Python object's memory, viewed by the host
    };
    using Finalizer = void (*)(void *user_data);
    static constexpr size_t kAlignment = 64;

    // Host memory lent as it is. `finalizer` (may be null) runs exactly once,
    // when the last reference goes, on the thread that drops it.
    static Buffer *lend(void *data, size_t len, bool writable, Finalizer finalizer, void *user_data);
    // `len` zeroed bytes owned by the library (64-byte aligned), freed when
    // the last reference goes; nullptr when out of memory.
    static Buffer *allocate(size_t len);
    // The memory of a Python view the host holds. `hold` is the Python side
    // (core/python/buffer_py.cpp); when the last reference goes the buffer
    // is queued on `ledger` so its context thread releases the view.
    static Buffer *python_view(void *data, bool readonly, BufferLayout layout, void *hold,
                               std::shared_ptr<BufferLedger> ledger);

    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;

    void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release();
    // Drops one reference unless it is the last one (then returns false and
    // keeps it): a caller that must not end the loan where it stands (a
    // context thread holding its GIL) lets go of the GIL first.
    bool release_if_shared();

    Memory memory() const { return memory_; }
    // Library memory in the shared arena (empty otherwise): what a process
    // context's child maps instead of a copy.
    const SharedArena::Block &arena_block() const { return arena_; }
    void *data() const { return data_; }
    size_t size() const { return size_; }  // bytes at data()
    bool readonly() const { return readonly_; }
    // Read without a lock once frozen (attached to a request, or a view).
    const BufferLayout &layout() const { return layout_; }

    // The layout setters: only before the buffer is frozen.
    Error set_format(std::string_view format);
    Error set_shape(int ndim, const int64_t *shape, const int64_t *strides);
    void freeze() { frozen_.store(true, std::memory_order_release); }
    bool frozen() const { return frozen_.load(std::memory_order_acquire); }

    // A Python view of the buffer (one reference, counted as a lease so
    // that shutdown can end the loans of views Python never freed).
    void lease();
    // Ends a lease: true when the caller now holds its reference (to drop
    // with release); false when shutdown already ended it.
    bool end_lease();
    // After Python was finalized: ends the leases of views it never freed
    // (their finalizers run now). Returns how many buffers that touched.
    static size_t end_leaked_leases();

    // Memory::python: the Python side and the context it belongs to.
    void *hold() const { return hold_; }
    const std::shared_ptr<BufferLedger> &ledger() const { return ledger_; }
    // Frees a python-view buffer whose view the context thread released.
    static void discard(Buffer *b) { delete b; }

private:
    Buffer() = default;
    ~Buffer();
    void finish();  // the last reference went

    std::atomic<uint32_t> refs_{1};
    std::atomic<bool> frozen_{false};
    Memory memory_ = Memory::host;
    bool readonly_ = true;
    void *data_ = nullptr;
    size_t size_ = 0;
    BufferLayout layout_;
    Finalizer finalizer_ = nullptr;
    void *user_data_ = nullptr;
    void *hold_ = nullptr;
    std::shared_ptr<BufferLedger> ledger_;
    uint32_t leases_ = 0;  // under the lease registry's lock
    SharedArena::Block arena_;  // Memory::library from the arena
};

// One reference to a Buffer (adopted on construction from a raw pointer).
class BufferRef {
public:
    BufferRef() = default;
    explicit BufferRef(Buffer *b) : b_(b) {}
    BufferRef(BufferRef &&o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    BufferRef &operator=(BufferRef &&o) noexcept {
        if (this != &o) {
            if (b_) b_->release();
            b_ = std::exchange(o.b_, nullptr);
        }
        return *this;
    }
    BufferRef(const BufferRef &) = delete;
    BufferRef &operator=(const BufferRef &) = delete;
    ~BufferRef() {
        if (b_) b_->release();
    }
    Buffer *get() const { return b_; }
    Buffer *detach() { return std::exchange(b_, nullptr); }
    explicit operator bool() const { return b_ != nullptr; }

private:
    Buffer *b_ = nullptr;
};

// The buffers attached to one request, by index. Filled before submission
// by its owner; read by the executor while it decodes the arguments; let go
// of when the request completes (clear), which may race with the reads.
class AttachedBuffers {
public:
    AttachedBuffers() = default;
    AttachedBuffers(const AttachedBuffers &) = delete;
    AttachedBuffers &operator=(const AttachedBuffers &) = delete;
    ~AttachedBuffers() { clear(); }

    // Takes a reference; returns the buffer's index.
    size_t add(Buffer *b);
    // Takes a reference to each of `other`'s buffers, appended in order.
    bool copy_from(const AttachedBuffers &other);
    // A new reference to buffer `index`, or nullptr with *count set to how
    // many there are (0 once cleared).
    Buffer *get(uint64_t index, size_t *count) const;
    // Exchanges the two sets' buffers (no reference changes hands).
    void swap(AttachedBuffers &other);
    // Drops every reference, outside the lock (a finalizer may run here).
    void clear();
    size_t size() const;
    bool empty() const { return size() == 0; }

private:
    // Most requests attach nothing: then no call takes the lock (no locked
    // write on the request's hot path). Set under the lock by add/copy_from
    // before the request is shared; cleared under it by clear.
    std::atomic<bool> any_{false};
    mutable SpinLock lock_;
    std::vector<Buffer *> items_;
};

class BufferLedger {
public:
    // Python views of lent buffers alive in this context (its stats).
    std::atomic<uint64_t> lent_views{0};
    // Host buffers lent to this context over its life.
    std::atomic<uint64_t> lent_total{0};

    // Views of this context's Python objects the host holds now.
    uint64_t held() const { return held_.load(std::memory_order_acquire); }
    void hold_begin() { held_.fetch_add(1, std::memory_order_acq_rel); }

    // Any thread: the host let go of a held view; queue its release on the
    // context thread and wake that thread.
    void post_release(Buffer *b);
    // The context thread: takes the queued releases; after releasing them,
    // it reports how many with released().
    std::vector<Buffer *> take_releases();
    void released(size_t n);
    bool has_releases() const { return has_pending_.load(std::memory_order_acquire); }

    // Changes on every post and release (a futex word to wait on).
    std::atomic<uint32_t> &changes() { return changes_; }

    // How the context thread is asked to look at its releases; set once,
    // before the context hands out any view.
    void set_waker(std::function<void()> waker) { waker_ = std::move(waker); }

private:
    std::mutex mu_;
    std::vector<Buffer *> pending_;
    std::atomic<bool> has_pending_{false};
    std::atomic<uint64_t> held_{0};
    std::atomic<uint32_t> changes_{0};
    std::function<void()> waker_;
};

}  // namespace pyctx::core
