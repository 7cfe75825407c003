// Host functions: registration and answering.
#include "capi/handles.h"
#include "core/host.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

extern "C" {

PYCTX_API pyctx_error_t *pyctx_host_register(const char *name, pyctx_host_fn fn, void *user_data,
                                             pyctx_free_fn free_user_data) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(name, "name")) return e;
        if (!fn) return invalid("fn is NULL");
        if (core::Runtime::get().state() == core::State::stopped)
            return capi::not_running();
        auto f = std::make_shared<core::HostFunction>();
        f->name = name;
        f->fn = fn;
        f->user_data = user_data;
        f->free_user_data = free_user_data;
        core::host_registry().add(std::move(f));
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_host_unregister(const char *name) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(name, "name")) return e;
        if (!core::host_registry().remove(name))
            return capi::make_error(PYCTX_ERR_NOT_FOUND,
                                    std::string("no host function named '") + name + "'");
        return nullptr;
    });
}

PYCTX_API const uint8_t *pyctx_host_call_args(const pyctx_host_call_t *call, size_t *out_len) {
    if (!call) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = call->args.size();
    return call->args.data();
}

PYCTX_API const char *pyctx_host_call_name(const pyctx_host_call_t *call) {
    return call ? call->name.c_str() : "";
}

PYCTX_API const char *pyctx_host_call_context_name(const pyctx_host_call_t *call) {
    return call ? call->context_name.c_str() : "";
}

PYCTX_API pyctx_error_t *pyctx_host_call_return(pyctx_host_call_t *call, const uint8_t *value,
                                                size_t len) {
    return guarded([&]() -> pyctx_error_t * {
        if (!call) return invalid("call is NULL");
        return capi::to_c(core::host_call_return(call, value, len));
    });
}

PYCTX_API pyctx_error_t *pyctx_host_call_fail(pyctx_host_call_t *call, const char *message) {
    return guarded([&]() -> pyctx_error_t * {
        if (!call) return invalid("call is NULL");
        return capi::to_c(core::host_call_fail(call, message));
    });
}

}  // extern "C"
