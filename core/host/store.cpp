#include "core/host/store.h"

#include <algorithm>
#include <functional>

#include "core/cbor/reader.h"

namespace pyctx::core {

Store &shared_store() {
    static Store *store = new Store();  // outlives static teardown
    return *store;
}

Error check_store_key(std::string_view key) {
    if (key.empty()) return Error(Status::invalid_argument, "store key is empty");
    if (key.size() > kStoreMaxKeyBytes)
        return Error(Status::invalid_argument,
                     "store key is longer than " + std::to_string(kStoreMaxKeyBytes) + " bytes");
    if (!cbor::utf8_valid(reinterpret_cast<const uint8_t *>(key.data()), key.size()))
        return Error(Status::invalid_argument, "store key is not valid UTF-8");
    return {};
}

namespace {

Error check_value(const uint8_t *value, size_t len) {
    if (!value || len == 0) return Error(Status::decode, "store value is empty: expected one CBOR item");
    Error err;
    cbor::check_single_item(value, len, &err);
    return err;
}

}  // namespace

Store::Shard &Store::shard_for(std::string_view key) {
    return shards_[std::hash<std::string_view>{}(key) % kShards];
}

Error Store::put(std::string_view key, const uint8_t *value, size_t len, uint64_t *out_version) {
    if (Error e = check_store_key(key); !e.ok()) return e;
    if (Error e = check_value(value, len); !e.ok()) return e;
    // Copy outside the lock; the old value is freed outside it too.
    std::string copy(reinterpret_cast<const char *>(value), len);
    Shard &s = shard_for(key);
    uint64_t version;
    {
        std::lock_guard lock(s.mu);
        auto it = s.map.find(key);
        if (it == s.map.end()) it = s.map.emplace(std::string(key), Entry{}).first;
        it->second.value.swap(copy);
        // Taken under the shard lock, so versions of one key only grow.
        version = it->second.version = next_version();
    }
    if (out_version) *out_version = version;
    return {};
}

bool Store::get(std::string_view key, std::string *out_value, uint64_t *out_version) {
    Shard &s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    if (out_value) *out_value = it->second.value;
    if (out_version) *out_version = it->second.version;
    return true;
}

Error Store::cas(std::string_view key, uint64_t expected, const uint8_t *value, size_t len,
                 bool *out_swapped, uint64_t *out_version) {
    if (Error e = check_store_key(key); !e.ok()) return e;
    if (Error e = check_value(value, len); !e.ok()) return e;
    std::string copy(reinterpret_cast<const char *>(value), len);
    Shard &s = shard_for(key);
    bool swapped = false;
    uint64_t version = kAbsent;
    {
        std::lock_guard lock(s.mu);
        auto it = s.map.find(key);
        uint64_t current = it == s.map.end() ? kAbsent : it->second.version;
        if (current != expected) {
            version = current;
        } else {
            if (it == s.map.end()) it = s.map.emplace(std::string(key), Entry{}).first;
            it->second.value.swap(copy);
            version = it->second.version = next_version();
            swapped = true;
        }
    }
    if (out_swapped) *out_swapped = swapped;
    if (out_version) *out_version = version;
    return {};
}

bool Store::erase(std::string_view key, uint64_t expected) {
    std::string old;  // freed outside the lock
    Shard &s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    if (expected != kAbsent && it->second.version != expected) return false;
    old.swap(it->second.value);
    s.map.erase(it);
    return true;
}

std::vector<std::string> Store::keys(std::string_view prefix) {
    std::vector<std::string> out;
    for (Shard &s : shards_) {
        std::lock_guard lock(s.mu);
        for (const auto &[k, e] : s.map)
            if (std::string_view(k).substr(0, prefix.size()) == prefix) out.push_back(k);
    }
    std::sort(out.begin(), out.end());
    return out;
}

size_t Store::size() {
    size_t n = 0;
    for (Shard &s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.map.size();
    }
    return n;
}

void Store::clear() {
    for (Shard &s : shards_) {
        StringMap<Entry> old;
        std::lock_guard lock(s.mu);
        old.swap(s.map);
    }
}

}  // namespace pyctx::core
