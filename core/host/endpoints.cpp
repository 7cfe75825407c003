#include "core/host/endpoints.h"

namespace pyctx::core {

EndpointRegistry &endpoints() {
    static EndpointRegistry *registry = new EndpointRegistry();  // outlives static teardown
    return *registry;
}

// A replaced router is released after the lock (declared before the
// guard): its finalizer is user code.
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
    table_.clear();
    set_router(nullptr);
}

}  // namespace pyctx::core
