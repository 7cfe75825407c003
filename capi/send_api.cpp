// Endpoints for pyctx.send(): named receivers and the router.
#include "capi/handles.h"
#include "capi/registration.h"
#include "core/host/endpoints.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

namespace {

// The user's function and data; the finalizer runs when the core lets go
// (unregistered or replaced, and no delivery in flight).
class CEndpoint final : public core::Endpoint, public capi::HostCallback<pyctx_send_fn> {
public:
    using HostCallback::HostCallback;
    bool deliver(const core::Message &m) override {
        // The context name is a std::string's data, NUL-terminated.
        const char *ctx = m.context_name.empty() ? "" : m.context_name.data();
        return call_fn(ctx, m.target, m.target_len, m.value, m.value_len) == 0;
    }
};

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_endpoint_register(const char *name, pyctx_send_fn fn,
                                                 void *user_data, pyctx_free_fn free_user_data) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(name, "name")) return e;
        if (!fn) return invalid("fn is NULL");
        if (core::Runtime::get().state() == core::State::stopped) return capi::not_running();
        capi::install<CEndpoint>(
            [&](std::shared_ptr<CEndpoint> ep) { core::endpoints().add(name, std::move(ep)); }, fn,
            user_data, free_user_data);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_endpoint_unregister(const char *name) {
    return capi::remove_named(name, "endpoint",
                              [](const char *n) { return core::endpoints().remove(n); });
}

PYCTX_API pyctx_error_t *pyctx_send_set_router(pyctx_send_fn fn, void *user_data,
                                               pyctx_free_fn free_user_data) {
    return guarded([&]() -> pyctx_error_t * {
        if (!fn) {
            if (user_data || free_user_data) return invalid("user data given without fn");
            core::endpoints().set_router(nullptr);
            return nullptr;
        }
        if (core::Runtime::get().state() == core::State::stopped) return capi::not_running();
        capi::install<CEndpoint>(
            [](std::shared_ptr<CEndpoint> ep) { core::endpoints().set_router(std::move(ep)); }, fn,
            user_data, free_user_data);
        return nullptr;
    });
}

}  // extern "C"
