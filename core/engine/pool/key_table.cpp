#include "core/engine/pool/key_table.h"

#include <mutex>

namespace pyctx::core {

bool KeyTable::route(uint64_t hash, uint64_t member_id) {
    if (per_shard_ == 0) return false;
    Shard &s = shards_[(hash >> 60) % kShards];  // the ring uses all bits; any slice is fair
    std::lock_guard lock(s.lock);
    auto it = s.owner.find(hash);
    if (it != s.owner.end()) {
        bool moved = it->second != member_id;
        it->second = member_id;
        return moved;
    }
    if (s.owner.size() >= per_shard_) s.owner.clear();
    s.owner.emplace(hash, member_id);
    return false;
}

size_t KeyTable::size() const {
    size_t n = 0;
    for (const Shard &s : shards_) {
        std::lock_guard lock(s.lock);
        n += s.owner.size();
    }
    return n;
}

}  // namespace pyctx::core
