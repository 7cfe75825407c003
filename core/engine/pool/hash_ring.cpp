#include "core/engine/pool/hash_ring.h"

#include <algorithm>

namespace pyctx::core {

namespace {
// splitmix64's finalizer: spreads FNV's weak low bits over the whole word.
uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
}  // namespace

uint64_t HashRing::hash_key(const void *key, size_t len) {
    const auto *p = static_cast<const unsigned char *>(key);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return mix(h);
}

uint64_t HashRing::point(uint32_t slot, uint32_t i) {
    return mix((static_cast<uint64_t>(slot) << 32 | i) + 0x9e3779b97f4a7c15ULL);
}

void HashRing::build(const std::vector<uint32_t> &slots) {
    points_.clear();
    points_.reserve(slots.size() * kPointsPerSlot);
    for (uint32_t slot : slots)
        for (uint32_t i = 0; i < kPointsPerSlot; ++i) points_.emplace_back(point(slot, i), slot);
    std::sort(points_.begin(), points_.end());
}

size_t HashRing::lower_bound(uint64_t hash) const {
    auto it = std::lower_bound(points_.begin(), points_.end(), hash,
                               [](const std::pair<uint64_t, uint32_t> &p, uint64_t h) {
                                   return p.first < h;
                               });
    return it == points_.end() ? 0 : static_cast<size_t>(it - points_.begin());
}

}  // namespace pyctx::core
