#include "core/request/buffers.h"

#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "core/base/futex.h"

namespace pyctx::core {

namespace {

// Buffers with live Python views, so that shutdown can end the loans of
// views Python never freed. Leaked on purpose: views may die during static
// teardown.
struct LeaseRegistry {
    std::mutex mu;
    std::unordered_set<Buffer *> leased;
};
LeaseRegistry &registry() {
    static auto *r = new LeaseRegistry();
    return *r;
}

}  // namespace

Buffer *Buffer::lend(void *data, size_t len, bool writable, Finalizer finalizer, void *user_data) {
    auto *b = new Buffer();
    b->memory_ = Memory::host;
    b->data_ = data;
    b->size_ = len;
    b->readonly_ = !writable;
    b->finalizer_ = finalizer;
    b->user_data_ = user_data;
    Error ignored = layout_1d("B", len, &b->layout_);
    return b;
}

Buffer *Buffer::allocate(size_t len) {
    // From the shared arena when there is one: a process context's child
    // then maps it without a copy.
    if (SharedArena *arena = SharedArena::get()) {
        SharedArena::Block block = arena->allocate(len);
        if (!block) return nullptr;
        auto *b = new Buffer();
        b->memory_ = Memory::library;
        b->data_ = block.data;
        b->size_ = len;
        b->readonly_ = false;
        b->arena_ = block;
        Error ignored = layout_1d("B", len, &b->layout_);
        return b;
    }
    // aligned_alloc wants a size that is a multiple of the alignment.
    size_t rounded = (len + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded < len) return nullptr;
    void *p = std::aligned_alloc(kAlignment, rounded ? rounded : kAlignment);
    if (!p) return nullptr;
    std::memset(p, 0, rounded ? rounded : kAlignment);
    auto *b = new Buffer();
    b->memory_ = Memory::library;
    b->data_ = p;
    b->size_ = len;
    b->readonly_ = false;
    Error ignored = layout_1d("B", len, &b->layout_);
    return b;
}

Buffer *Buffer::python_view(void *data, bool readonly, BufferLayout layout, void *hold,
                            std::shared_ptr<BufferLedger> ledger) {
    auto *b = new Buffer();
    b->memory_ = Memory::python;
    b->data_ = data;
    b->size_ = layout.element_bytes();
    b->readonly_ = readonly;
    b->layout_ = std::move(layout);
    b->hold_ = hold;
    b->ledger_ = std::move(ledger);
    b->ledger_->hold_begin();
    b->freeze();
    return b;
}

Buffer::~Buffer() = default;

void Buffer::release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) finish();
}

bool Buffer::release_if_shared() {
    uint32_t n = refs_.load(std::memory_order_relaxed);
    while (n > 1) {
        if (refs_.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) return true;
    }
    return false;
}

void Buffer::finish() {
    switch (memory_) {
        case Memory::host:
            if (finalizer_) finalizer_(user_data_);
            break;
        case Memory::library:
            if (arena_) {
                SharedArena::get()->free(arena_);
            } else {
                std::free(data_);
            }
            break;
        case Memory::python:
            // The view is released on its context thread, which then
            // discards this buffer.
            ledger_->post_release(this);
            return;
    }
    delete this;
}

Error Buffer::set_format(std::string_view format) {
    if (frozen()) return Error(Status::invalid_argument, "the layout is fixed once the buffer is shared");
    BufferLayout l;
    Error e = layout_.ndim() == 1 && layout_.c_contiguous
                  ? layout_1d(format, size_, &l)
                  : layout_nd(format, layout_.ndim(), layout_.shape.data(), layout_.strides.data(),
                              size_, &l);
    if (e.ok()) layout_ = std::move(l);
    return e;
}

Error Buffer::set_shape(int ndim, const int64_t *shape, const int64_t *strides) {
    if (frozen()) return Error(Status::invalid_argument, "the layout is fixed once the buffer is shared");
    BufferLayout l;
    Error e = layout_nd(layout_.format, ndim, shape, strides, size_, &l);
    if (e.ok()) layout_ = std::move(l);
    return e;
}

void Buffer::lease() {
    retain();
    LeaseRegistry &r = registry();
    std::lock_guard lock(r.mu);
    if (leases_++ == 0) r.leased.insert(this);
}

bool Buffer::end_lease() {
    LeaseRegistry &r = registry();
    std::lock_guard lock(r.mu);
    if (leases_ == 0) return false;  // ended (with its reference) by end_leaked_leases
    if (--leases_ == 0) r.leased.erase(this);
    return true;
}

size_t Buffer::end_leaked_leases() {
    std::vector<std::pair<Buffer *, uint32_t>> leaked;
    {
        LeaseRegistry &r = registry();
        std::lock_guard lock(r.mu);
        for (Buffer *b : r.leased) {
            leaked.emplace_back(b, b->leases_);
            b->leases_ = 0;
        }
        r.leased.clear();
    }
    for (auto &[b, n] : leaked)
        for (uint32_t i = 0; i < n; ++i) b->release();
    return leaked.size();
}

// ---------------------------------------------------------------------------

size_t AttachedBuffers::add(Buffer *b) {
    b->retain();
    b->freeze();
    std::lock_guard lock(lock_);
    items_.push_back(b);
    any_.store(true, std::memory_order_release);
    return items_.size() - 1;
}

bool AttachedBuffers::copy_from(const AttachedBuffers &other) {
    if (!other.any_.load(std::memory_order_acquire)) return true;
    std::lock_guard a(other.lock_);
    std::lock_guard b(lock_);
    items_.reserve(items_.size() + other.items_.size());
    for (Buffer *x : other.items_) {
        x->retain();
        items_.push_back(x);
    }
    any_.store(!items_.empty(), std::memory_order_release);
    return true;
}

Buffer *AttachedBuffers::get(uint64_t index, size_t *count) const {
    *count = 0;
    if (!any_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lock(lock_);
    *count = items_.size();
    if (index >= items_.size()) return nullptr;
    Buffer *b = items_[static_cast<size_t>(index)];
    b->retain();
    return b;
}

void AttachedBuffers::swap(AttachedBuffers &other) {
    if (this == &other ||
        (!any_.load(std::memory_order_acquire) && !other.any_.load(std::memory_order_acquire)))
        return;
    // In address order, so two swaps of the same pair cannot deadlock.
    AttachedBuffers *first = this < &other ? this : &other, *second = first == this ? &other : this;
    std::lock_guard a(first->lock_);
    std::lock_guard b(second->lock_);
    items_.swap(other.items_);
    any_.store(!items_.empty(), std::memory_order_release);
    other.any_.store(!other.items_.empty(), std::memory_order_release);
}

void AttachedBuffers::clear() {
    if (!any_.load(std::memory_order_acquire)) return;
    std::vector<Buffer *> drop;
    {
        std::lock_guard lock(lock_);
        if (items_.empty()) return;
        drop.swap(items_);
        any_.store(false, std::memory_order_release);
    }
    for (Buffer *b : drop) b->release();
}

size_t AttachedBuffers::size() const {
    if (!any_.load(std::memory_order_acquire)) return 0;
    std::lock_guard lock(lock_);
    return items_.size();
}

// ---------------------------------------------------------------------------

void BufferLedger::post_release(Buffer *b) {
    {
        std::lock_guard lock(mu_);
        pending_.push_back(b);
        has_pending_.store(true, std::memory_order_release);
    }
    changes_.fetch_add(1, std::memory_order_acq_rel);
    futex_wake_all(changes_);
    if (waker_) waker_();
}

std::vector<Buffer *> BufferLedger::take_releases() {
    std::vector<Buffer *> out;
    std::lock_guard lock(mu_);
    out.swap(pending_);
    has_pending_.store(false, std::memory_order_release);
    return out;
}

void BufferLedger::released(size_t n) {
    if (!n) return;
    held_.fetch_sub(n, std::memory_order_acq_rel);
    changes_.fetch_add(1, std::memory_order_acq_rel);
    futex_wake_all(changes_);
}

}  // namespace pyctx::core
