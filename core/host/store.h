// The process-wide shared store: text keys mapped to CBOR values, shared by
// every context (worker, owngil, and later process contexts through the same
// API) and by the host. No Python here: values are opaque CBOR byte strings,
// so owngil interpreters that share no Python objects share data through it.
//
// Every write stamps the entry with a fresh version from one process-wide
// counter, so a version is never reused (delete then put never yields an old
// version again): compare-and-swap on versions has no ABA problem. The map
// is split into shards, each with its own lock, held only for a lookup and a
// copy (never while calling out), so contention between contexts stays low.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/error.h"
#include "core/base/string_map.h"

namespace pyctx::core {

class Store {
public:
    // Version 0 means "absent": cas() with expected 0 inserts only a new key.
    static constexpr uint64_t kAbsent = 0;

    // Validates `value` as one CBOR item; returns the new version.
    Error put(std::string_view key, const uint8_t *value, size_t len, uint64_t *out_version);
    // Copies the value out; false when the key is absent.
    bool get(std::string_view key, std::string *out_value, uint64_t *out_version);
    // Writes only when the entry's version is `expected` (kAbsent: only when
    // absent). *out_swapped says whether it did; *out_version is the entry's
    // version afterwards (the new one, or the current one on a conflict,
    // kAbsent when there is none).
    Error cas(std::string_view key, uint64_t expected, const uint8_t *value, size_t len,
              bool *out_swapped, uint64_t *out_version);
    // Removes the key when its version is `expected` (kAbsent: any version).
    // True when an entry was removed.
    bool erase(std::string_view key, uint64_t expected = kAbsent);
    // Every key starting with `prefix`, sorted.
    std::vector<std::string> keys(std::string_view prefix);
    size_t size();
    void clear();

private:
    struct Entry {
        std::string value;
        uint64_t version = 0;
    };
    struct Shard {
        std::mutex mu;
        StringMap<Entry> map;
    };
    static constexpr size_t kShards = 32;

    Shard &shard_for(std::string_view key);
    uint64_t next_version() { return version_.fetch_add(1, std::memory_order_relaxed) + 1; }

    std::array<Shard, kShards> shards_;
    std::atomic<uint64_t> version_{0};
};

// The one store of this process (never destroyed: contexts may use it
// until the process exits).
Store &shared_store();

// Keys are non-empty valid UTF-8 of at most kMaxKeyBytes (they become
// Python str and CBOR text on the way out).
constexpr size_t kStoreMaxKeyBytes = 4096;
Error check_store_key(std::string_view key);

}  // namespace pyctx::core
