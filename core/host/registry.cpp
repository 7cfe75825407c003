#include "core/host/registry.h"

namespace pyctx::core {

HostRegistry &host_registry() {
    static HostRegistry *registry = new HostRegistry();  // outlives static teardown
    return *registry;
}

void HostRegistry::add(std::shared_ptr<HostFunction> fn) {
    std::shared_ptr<HostFunction> replaced;
    std::lock_guard lock(mu_);
    auto &slot = map_[fn->name()];
    replaced = std::move(slot);
    slot = std::move(fn);
    // `replaced` goes after the lock: declared before the guard, destroyed after it.
}

bool HostRegistry::remove(const std::string &name) {
    std::shared_ptr<HostFunction> removed;
    std::lock_guard lock(mu_);
    auto it = map_.find(name);
    if (it == map_.end()) return false;
    removed = std::move(it->second);
    map_.erase(it);
    return true;
}

std::shared_ptr<HostFunction> HostRegistry::find(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = map_.find(name);
    if (it != map_.end()) return it->second;
    return fallback_ ? fallback_(name) : nullptr;
}

void HostRegistry::set_fallback(Fallback fallback) {
    std::lock_guard lock(mu_);
    fallback_ = std::move(fallback);
}

void HostRegistry::clear() {
    StringMap<std::shared_ptr<HostFunction>> old;
    std::lock_guard lock(mu_);
    old.swap(map_);
}

}  // namespace pyctx::core
