// A thread-safe table of shared objects by name, for registries whose
// entries carry user code in their destructors (host functions, send
// endpoints): an entry that is replaced, removed or cleared is released
// after the lock, so its finalizer may itself use the table.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/base/string_map.h"

namespace pyctx::core {

template <class T>
class NamedTable {
public:
    // Adds or replaces.
    void put(const std::string &name, std::shared_ptr<T> value) {
        std::shared_ptr<T> replaced;  // declared before the guard: released after it
        std::lock_guard lock(mu_);
        auto &slot = map_[name];
        replaced = std::move(slot);
        slot = std::move(value);
    }

    bool erase(const std::string &name) {
        std::shared_ptr<T> removed;
        std::lock_guard lock(mu_);
        auto it = map_.find(name);
        if (it == map_.end()) return false;
        removed = std::move(it->second);
        map_.erase(it);
        return true;
    }

    std::shared_ptr<T> find(std::string_view name) const {
        std::lock_guard lock(mu_);
        auto it = map_.find(name);
        return it == map_.end() ? nullptr : it->second;
    }

    void clear() {
        StringMap<std::shared_ptr<T>> old;
        std::lock_guard lock(mu_);
        old.swap(map_);
    }

private:
    mutable std::mutex mu_;
    StringMap<std::shared_ptr<T>> map_;
};

}  // namespace pyctx::core
