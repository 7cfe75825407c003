// Consistent hashing for a pool's by-key routing. Each member slot owns
// kPointsPerSlot pseudo-random points on a 64-bit ring; a key belongs to the
// slot of the first point at or after the key's hash. Adding a slot moves
// only the keys that now fall before its points (about 1/N of them, all to
// the new slot); removing one moves only that slot's keys. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace pyctx::core {

class HashRing {
public:
    static constexpr int kPointsPerSlot = 160;

    // The ring of exactly these slots (any order, no duplicates).
    void build(const std::vector<uint32_t> &slots);
    bool empty() const { return points_.empty(); }

    // Walks the ring from `hash` clockwise, offering each distinct slot once
    // to `accept(slot)`; returns the first slot accepted, or -1.
    template <class Accept>
    int64_t find(uint64_t hash, Accept &&accept) const {
        if (points_.empty()) return -1;
        size_t i = lower_bound(hash);
        uint32_t tried[8];
        size_t n_tried = 0;
        for (size_t step = 0; step < points_.size(); ++step) {
            uint32_t slot = points_[(i + step) % points_.size()].second;
            bool seen = false;
            for (size_t k = 0; k < n_tried && !seen; ++k) seen = tried[k] == slot;
            if (seen) continue;
            if (accept(slot)) return slot;
            if (n_tried < 8) tried[n_tried++] = slot;
        }
        return -1;
    }

    // The hash of a key (64-bit FNV-1a with a final avalanche, stable across
    // runs and platforms so a key's slot is reproducible).
    static uint64_t hash_key(const void *key, size_t len);
    // The hash of point `i` of `slot`.
    static uint64_t point(uint32_t slot, uint32_t i);

private:
    size_t lower_bound(uint64_t hash) const;

    std::vector<std::pair<uint64_t, uint32_t>> points_;  // sorted by hash
};

}  // namespace pyctx::core
