#include "core/host/registry.h"

namespace pyctx::core {

HostRegistry &host_registry() {
    static HostRegistry *registry = new HostRegistry();  // outlives static teardown
    return *registry;
}

void HostRegistry::add(std::shared_ptr<HostFunction> fn) {
    const std::string name = fn->name();
    table_.put(name, std::move(fn));
}

std::shared_ptr<HostFunction> HostRegistry::find(std::string_view name) const {
    if (auto fn = table_.find(name)) return fn;
    std::lock_guard lock(fallback_mu_);
    return fallback_ ? fallback_(name) : nullptr;
}

void HostRegistry::set_fallback(Fallback fallback) {
    std::lock_guard lock(fallback_mu_);
    fallback_ = std::move(fallback);
}

}  // namespace pyctx::core
