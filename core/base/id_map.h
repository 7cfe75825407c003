// A map from request ids to small values (a pointer, a pointer and a slot)
// that allocates only when it grows. The request path inserts and erases one
// entry per request -- the lane's tasks, a process context's requests in
// flight -- and a node-based map would pay a malloc and a free for each of
// them; this table is one array, open addressed with linear probing and
// backward-shift deletion (no tombstones, so a long-lived table never
// degrades).
//
// Keys are nonzero (0 marks an empty slot: request ids start at 1). Ids are
// sequential, so a multiplicative (Fibonacci) hash spreads them evenly.
// Not thread-safe: the owner's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace pyctx::core {

template <class Value>
class IdMap {
public:
    IdMap() = default;

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // Room for `n` entries without growing (the table is kept at most half
    // full).
    void reserve(size_t n) {
        size_t want = kMinCapacity;
        while (want < 2 * n) want <<= 1;
        if (want > slots_.size()) rehash(want);
    }

    // Adds key -> value; false (nothing changed) when the key is present.
    // Throws std::bad_alloc when growing fails.
    bool insert(uint64_t key, const Value &value) {
        if (2 * (size_ + 1) > slots_.size()) rehash(slots_.empty() ? kMinCapacity : 2 * slots_.size());
        for (size_t i = home(key);; i = next(i)) {
            Slot &s = slots_[i];
            if (s.key == key) return false;
            if (s.key == 0) {
                s.key = key;
                s.value = value;
                ++size_;
                return true;
            }
        }
    }

    // The value of `key`, or nullptr. Valid until the next insert or erase.
    Value *find(uint64_t key) {
        if (slots_.empty() || key == 0) return nullptr;
        for (size_t i = home(key);; i = next(i)) {
            Slot &s = slots_[i];
            if (s.key == key) return &s.value;
            if (s.key == 0) return nullptr;
        }
    }

    // Removes `key`, moving its value to *out (when given); false when absent.
    bool erase(uint64_t key, Value *out = nullptr) {
        if (slots_.empty() || key == 0) return false;
        size_t i = home(key);
        for (;; i = next(i)) {
            if (slots_[i].key == key) break;
            if (slots_[i].key == 0) return false;
        }
        if (out) *out = std::move(slots_[i].value);
        // Backward shift: pull every later entry of the run whose home is
        // not between the hole and itself into the hole, so lookups never
        // meet a gap inside a run.
        for (size_t j = next(i);; j = next(j)) {
            Slot &s = slots_[j];
            if (s.key == 0) break;
            const size_t h = home(s.key);
            const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
            if (stays) continue;
            slots_[i] = std::move(s);
            i = j;
        }
        slots_[i] = Slot{};
        --size_;
        return true;
    }

    // Calls f(key, value&) for every entry, in no particular order. f must
    // not insert or erase.
    template <class F>
    void for_each(F &&f) {
        for (Slot &s : slots_)
            if (s.key != 0) f(s.key, s.value);
    }

    // Empties the table, keeping its capacity.
    void clear() {
        for (Slot &s : slots_) s = Slot{};
        size_ = 0;
    }

private:
    static constexpr size_t kMinCapacity = 16;

    struct Slot {
        uint64_t key = 0;
        Value value{};
    };

    size_t home(uint64_t key) const {
        return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

    void rehash(size_t capacity) {
        std::vector<Slot> old(capacity);
        old.swap(slots_);
        shift_ = 64;
        for (size_t c = capacity; c > 1; c >>= 1) --shift_;
        size_ = 0;
        for (Slot &s : old)
            if (s.key != 0) insert(s.key, s.value);
    }

    std::vector<Slot> slots_;  // a power of two in size, or empty
    size_t size_ = 0;
    int shift_ = 64;  // 64 - log2(capacity)
};

}  // namespace pyctx::core
