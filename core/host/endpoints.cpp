#include "core/host/endpoints.h"

namespace pyctx::core {

EndpointRegistry &endpoints() {
    static EndpointRegistry *registry = new EndpointRegistry();  // outlives static teardown
    return *registry;
}

// Replaced or removed endpoints are released after the lock (declared
// before the guard): their finalizers are user code.
void EndpointRegistry::add(const std::string &name, std::shared_ptr<Endpoint> ep) {
    std::shared_ptr<Endpoint> replaced;
    std::lock_guard lock(mu_);
    auto &slot = map_[name];
    replaced = std::move(slot);
    slot = std::move(ep);
}

bool EndpointRegistry::remove(const std::string &name) {
    std::shared_ptr<Endpoint> removed;
    std::lock_guard lock(mu_);
    auto it = map_.find(name);
    if (it == map_.end()) return false;
    removed = std::move(it->second);
    map_.erase(it);
    return true;
}

std::shared_ptr<Endpoint> EndpointRegistry::find(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = map_.find(name);
    return it == map_.end() ? nullptr : it->second;
}

void EndpointRegistry::set_router(std::shared_ptr<Endpoint> router) {
    std::shared_ptr<Endpoint> old;
    std::lock_guard lock(mu_);
    old = std::move(router_);
    router_ = std::move(router);
}

std::shared_ptr<Endpoint> EndpointRegistry::router() {
    std::lock_guard lock(mu_);
    return router_;
}

void EndpointRegistry::clear() {
    StringMap<std::shared_ptr<Endpoint>> old;
    std::shared_ptr<Endpoint> old_router;
    std::lock_guard lock(mu_);
    old.swap(map_);
    old_router = std::move(router_);
}

}  // namespace pyctx::core
