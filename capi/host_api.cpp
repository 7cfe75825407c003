// Host functions: registration and answering.
#include "capi/handles.h"
#include "capi/registration.h"
#include "core/host/host_call.h"
#include "core/host/registry.h"

using namespace pyctx;
using capi::from_c;
using capi::guarded;
using capi::invalid;

namespace {

// A host function registered through the C API: the user's function and
// data, with the finalizer run when the core lets go of it.
class CHostFunction final : public core::HostFunction, public capi::HostCallback<pyctx_host_fn> {
public:
    CHostFunction(std::string name, pyctx_host_fn fn, void *user_data, pyctx_free_fn free_fn)
        : core::HostFunction(std::move(name)), HostCallback(fn, user_data, free_fn) {}
    void invoke(core::HostCall *call) override { call_fn(capi::to_c(call)); }
};

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_host_register(const char *name, pyctx_host_fn fn, void *user_data,
                                             pyctx_free_fn free_user_data) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(name, "name")) return e;
        if (!fn) return invalid("fn is NULL");
        if (core::Runtime::get().state() == core::State::stopped)
            return capi::not_running();
        capi::install<CHostFunction>(
            [](std::shared_ptr<CHostFunction> f) { core::host_registry().add(std::move(f)); }, name,
            fn, user_data, free_user_data);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_host_unregister(const char *name) {
    return capi::remove_named(name, "host function",
                              [](const char *n) { return core::host_registry().remove(n); });
}

PYCTX_API const uint8_t *pyctx_host_call_args(const pyctx_host_call_t *call, size_t *out_len) {
    if (!call) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = from_c(call)->args.size();
    return from_c(call)->args.data();
}

PYCTX_API const char *pyctx_host_call_name(const pyctx_host_call_t *call) {
    return call ? from_c(call)->name.c_str() : "";
}

PYCTX_API const char *pyctx_host_call_context_name(const pyctx_host_call_t *call) {
    return call ? from_c(call)->context_name.c_str() : "";
}

PYCTX_API pyctx_error_t *pyctx_host_call_return(pyctx_host_call_t *call, const uint8_t *value,
                                                size_t len) {
    return guarded([&]() -> pyctx_error_t * {
        if (!call) return invalid("call is NULL");
        return capi::to_c(core::host_call_return(from_c(call), value, len));
    });
}

PYCTX_API pyctx_error_t *pyctx_host_call_fail(pyctx_host_call_t *call, const char *message) {
    return guarded([&]() -> pyctx_error_t * {
        if (!call) return invalid("call is NULL");
        return capi::to_c(core::host_call_fail(from_c(call), message));
    });
}

}  // extern "C"
