// What a pool remembers of keys, to report a key whose member changed: the
// member id each key (by its 64-bit hash) was last routed to, for up to a
// bounded number of keys. Sharded so submitters of different keys rarely
// meet on one lock. Python-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "core/base/spin_lock.h"

namespace pyctx::core {

class KeyTable {
public:
    static constexpr size_t kShards = 16;

    // Remembers up to about `capacity` keys (0: none, nothing is reported).
    explicit KeyTable(size_t capacity) : per_shard_((capacity + kShards - 1) / kShards) {}
    KeyTable(const KeyTable &) = delete;
    KeyTable &operator=(const KeyTable &) = delete;

    // Records that the key `hash` goes to `member_id` now. True when it was
    // last routed to another member. A shard that is full forgets all of
    // its keys first (they are then new again: not reported at their next
    // request).
    bool route(uint64_t hash, uint64_t member_id);
    size_t size() const;

private:
    struct Shard {
        mutable SpinLock lock;
        std::unordered_map<uint64_t, uint64_t> owner;
    };
    const size_t per_shard_;
    Shard shards_[kShards];
};

}  // namespace pyctx::core
