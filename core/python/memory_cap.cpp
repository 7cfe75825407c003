#include "core/python/memory_cap.h"

#include <Python.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "core/python/current_tstate.h"

namespace pyctx::core {

namespace {

constexpr uintptr_t kEmpty = 0, kTombstone = 1;
constexpr size_t kSmall = 4096;  // what may use the overdraft

// Everything per thread in one trivially constructed block: one TLS lookup
// per allocation.
struct CapTls {
    MemoryCap *cap;       // set by enter_thread()
    int depth;            // inside a hook: nested calls pass through
    MemoryCap *seen_cap;  // the interpreter lookup's answer for this thread,
    uint64_t seen_gen;    // valid while the registry is unchanged
};
// Initial-exec: a few bytes of static TLS, read without a call (the hooks run
// on every allocation of the process).
__attribute__((tls_model("initial-exec"))) thread_local CapTls t_cap_tls;

std::mutex g_registry_mu;
std::vector<std::pair<void *, MemoryCap *>> g_registry;  // interpreter -> cap
std::atomic<size_t> g_registered{0};
std::atomic<uint64_t> g_cap_generation{1};
// Capped context threads inside their interpreter: 0 means no allocation
// can be attributed, and the hooks pass straight through.
std::atomic<size_t> g_live{0};

// A thread keeps its interpreter for life (a Python thread is born in one;
// an owngil context thread that switches is attributed by enter_thread()),
// so the answer is cached per thread until the registry changes, and the
// thread state is only read to refresh it. A thread with no thread state
// yet is not cached: it may be a Python thread about to get one.
MemoryCap *lookup_by_interpreter(CapTls &t) {
    uint64_t gen = g_cap_generation.load(std::memory_order_acquire);
    if (gen == t.seen_gen) return t.seen_cap;
    PyThreadState *ts = current_tstate_or_null();
    if (!ts) return nullptr;
    void *interp = PyThreadState_GetInterpreter(ts);
    MemoryCap *found = nullptr;
    {
        std::lock_guard lock(g_registry_mu);
        for (auto &[i, c] : g_registry)
            if (i == interp) found = c;
    }
    t.seen_cap = found;
    t.seen_gen = gen;
    return found;
}

inline MemoryCap *attributed(CapTls &t) {
    if (t.depth) return nullptr;
    if (t.cap) return t.cap;
    if (g_registered.load(std::memory_order_relaxed) == 0) return nullptr;
    return lookup_by_interpreter(t);
}

// The hooks' first test: no thread-local lookup while no cap is live.
inline bool any_live() { return g_live.load(std::memory_order_relaxed) != 0; }

// The allocators wrapped, published before the hooks are installed (the
// acquire loads pair with that, so the hooks of any thread see them).
PyMemAllocatorEx g_prev_store[3];
std::atomic<const PyMemAllocatorEx *> g_prev_ptr[3];

template <int D>
inline const PyMemAllocatorEx &prev() {
    return *g_prev_ptr[D].load(std::memory_order_acquire);
}

template <int D>
void *cap_alloc(MemoryCap *c, CapTls &t, size_t n, size_t elsize) {
    if (!c->reserve(n)) return nullptr;
    ++t.depth;
    void *p = elsize ? prev<D>().calloc(prev<D>().ctx, n / elsize, elsize)
                     : prev<D>().malloc(prev<D>().ctx, n);
    --t.depth;
    if (!p) {
        c->release(n);
        return nullptr;
    }
    if (n && !c->track(p, n)) {
        ++t.depth;
        prev<D>().free(prev<D>().ctx, p);
        --t.depth;
        c->release(n);
        return nullptr;
    }
    return p;
}

template <int D>
void *hook_malloc(void *, size_t n) {
    if (!any_live()) return prev<D>().malloc(prev<D>().ctx, n);
    CapTls &t = t_cap_tls;
    MemoryCap *c = attributed(t);
    if (!c) return prev<D>().malloc(prev<D>().ctx, n);
    return cap_alloc<D>(c, t, n, 0);
}

template <int D>
void *hook_calloc(void *, size_t nelem, size_t elsize) {
    if (!any_live()) return prev<D>().calloc(prev<D>().ctx, nelem, elsize);
    CapTls &t = t_cap_tls;
    MemoryCap *c = attributed(t);
    if (!c) return prev<D>().calloc(prev<D>().ctx, nelem, elsize);
    if (elsize && nelem > SIZE_MAX / elsize) return nullptr;
    return cap_alloc<D>(c, t, nelem * elsize, elsize ? elsize : 1);
}

template <int D>
void *hook_realloc(void *, void *p, size_t n) {
    if (!any_live()) return prev<D>().realloc(prev<D>().ctx, p, n);
    CapTls &t = t_cap_tls;
    MemoryCap *c = attributed(t);
    if (!c) return prev<D>().realloc(prev<D>().ctx, p, n);
    if (!p) return cap_alloc<D>(c, t, n, 0);
    // Out of the table while realloc may free it (its address may be
    // handed to another thread at once).
    size_t old = 0;
    bool had = c->untrack(p, &old);
    if (n > old && !c->reserve(n - old)) {
        if (had) c->track(p, old);
        return nullptr;
    }
    ++t.depth;
    void *q = prev<D>().realloc(prev<D>().ctx, p, n);
    --t.depth;
    if (!q) {
        if (n > old) c->release(n - old);
        if (had) c->track(p, old);
        return nullptr;
    }
    if (n < old) c->release(old - n);
    if (n && !c->track(q, n)) c->release(n);  // the block lives on, uncounted
    return q;
}

template <int D>
void hook_free(void *, void *p) {
    if (!any_live()) return prev<D>().free(prev<D>().ctx, p);
    CapTls &t = t_cap_tls;
    if (p) {
        if (MemoryCap *c = attributed(t)) {
            size_t n = 0;
            if (c->untrack(p, &n)) c->release(n);
            ++t.depth;
            prev<D>().free(prev<D>().ctx, p);
            --t.depth;
            return;
        }
    }
    prev<D>().free(prev<D>().ctx, p);
}

template <int D>
void install_domain(PyMemAllocatorDomain domain) {
    PyMem_GetAllocator(domain, &g_prev_store[D]);
    g_prev_ptr[D].store(&g_prev_store[D], std::memory_order_release);
    const PyMemAllocatorEx &old = g_prev_store[D];
    // The same ctx as before: a thread reading the allocator while it is
    // replaced may pair either function with either ctx, and the hooks
    // ignore theirs.
    PyMemAllocatorEx mine = {old.ctx, hook_malloc<D>, hook_calloc<D>, hook_realloc<D>,
                             hook_free<D>};
    PyMem_SetAllocator(domain, &mine);
}

}  // namespace

MemoryCap::MemoryCap(size_t limit)
    : limit_(limit), overdraft_(std::min<size_t>(std::max<size_t>(limit / 32, 256 << 10), 4 << 20)) {}

MemoryCap::~MemoryCap() { std::free(slots_); }

bool MemoryCap::install_hooks(Error *err) {
    static std::once_flag once;
    std::call_once(once, [] {
        install_domain<0>(PYMEM_DOMAIN_RAW);
        install_domain<1>(PYMEM_DOMAIN_MEM);
        install_domain<2>(PYMEM_DOMAIN_OBJ);
    });
    (void)err;
    return true;
}

void MemoryCap::enter_thread() {
    t_cap_tls.cap = this;
    g_live.fetch_add(1, std::memory_order_relaxed);
}

void MemoryCap::attach_interpreter(void *interp) {
    interp_ = interp;
    std::lock_guard lock(g_registry_mu);
    g_registry.emplace_back(interp, this);
    g_registered.store(g_registry.size(), std::memory_order_relaxed);
    g_cap_generation.fetch_add(1, std::memory_order_release);
}

void MemoryCap::leave_thread() {
    if (t_cap_tls.cap == this) g_live.fetch_sub(1, std::memory_order_relaxed);
    t_cap_tls.cap = nullptr;
    if (!interp_) return;
    std::lock_guard lock(g_registry_mu);
    std::erase_if(g_registry, [this](const auto &e) { return e.second == this; });
    g_registered.store(g_registry.size(), std::memory_order_relaxed);
    g_cap_generation.fetch_add(1, std::memory_order_release);
    interp_ = nullptr;
}

bool MemoryCap::reserve(size_t n) {
    int64_t now = used_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed) +
                  static_cast<int64_t>(n);
    if (now <= static_cast<int64_t>(limit_)) {
        if (refused_.load(std::memory_order_relaxed)) refused_.store(false, std::memory_order_relaxed);
        return true;
    }
    if (n <= kSmall && now <= static_cast<int64_t>(limit_ + overdraft_) &&
        refused_.load(std::memory_order_relaxed))
        return true;
    used_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
    refused_.store(true, std::memory_order_relaxed);
    return false;
}

size_t MemoryCap::slot_of(uintptr_t key) const {
    uint64_t h = (static_cast<uint64_t>(key) >> 4) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> 20) & (capacity_ - 1);
}

bool MemoryCap::grow() {
    size_t cap = capacity_ ? capacity_ * 2 : 1024;
    if (count_ * 2 < capacity_) cap = capacity_;  // only tombstones to drop
    auto *fresh = static_cast<Slot *>(std::calloc(cap, sizeof(Slot)));
    if (!fresh) return false;
    Slot *old = slots_;
    size_t old_cap = capacity_;
    slots_ = fresh;
    capacity_ = cap;
    tombstones_ = 0;
    for (size_t i = 0; i < old_cap; ++i) {
        if (old[i].key <= kTombstone) continue;
        size_t j = slot_of(old[i].key);
        while (slots_[j].key != kEmpty) j = (j + 1) & (capacity_ - 1);
        slots_[j] = old[i];
    }
    std::free(old);
    return true;
}

bool MemoryCap::track(void *p, size_t n) {
    auto key = reinterpret_cast<uintptr_t>(p);
    std::lock_guard lock(lock_);
    if ((count_ + tombstones_ + 1) * 4 > capacity_ * 3 && !grow()) return false;
    size_t j = slot_of(key), tomb = SIZE_MAX;
    for (;; j = (j + 1) & (capacity_ - 1)) {
        uintptr_t k = slots_[j].key;
        if (k == key) {
            // A stale entry: that block was freed where it was not
            // attributed, and its address came back.
            release(slots_[j].size);
            slots_[j].size = n;
            return true;
        }
        if (k == kTombstone && tomb == SIZE_MAX) tomb = j;
        if (k == kEmpty) break;
    }
    if (tomb != SIZE_MAX) {
        j = tomb;
        --tombstones_;
    }
    slots_[j] = {key, n};
    ++count_;
    return true;
}

bool MemoryCap::untrack(void *p, size_t *n) {
    auto key = reinterpret_cast<uintptr_t>(p);
    std::lock_guard lock(lock_);
    if (!capacity_) return false;
    for (size_t j = slot_of(key);; j = (j + 1) & (capacity_ - 1)) {
        uintptr_t k = slots_[j].key;
        if (k == kEmpty) return false;
        if (k == key) {
            *n = slots_[j].size;
            slots_[j].key = kTombstone;
            --count_;
            ++tombstones_;
            return true;
        }
    }
}

}  // namespace pyctx::core
