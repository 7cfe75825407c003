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

}  // namespace pyctx::core
