// The C API's opaque handle types and the helpers every capi/ file shares:
// argument checks and the exception barrier.
#pragma once

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "capi/c_error.h"
#include "core/engine/context.h"
#include "core/engine/runtime.h"
#include "core/host/host_call.h"
#include "core/request/request.h"
#include "core/request/request_pool.h"
#include "pyctx.h"

struct pyctx_runtime_options {
    pyctx::core::RuntimeOptions options;
};

struct pyctx_context_options {
    pyctx::core::ContextOptions options;
};

// A handle owns one reference to the context; closing is separate from
// freeing, so a late call on a closed handle reports `closed` safely.
struct pyctx_context {
    std::shared_ptr<pyctx::core::Context> ctx;
};

struct pyctx_env {
    std::shared_ptr<pyctx::core::Context> ctx;
    uint64_t id;
};

// An async request is allocated as a pyctx_result, so the request itself is
// the result object handed to the completion callback: no second allocation.
struct pyctx_result final : pyctx::core::Request {
    pyctx_error error_object;  // filled at delivery when the request failed
    pyctx_completion_fn on_complete = nullptr;
    void *user_data = nullptr;

    static pyctx_result *make() { return pyctx::core::RequestPool<pyctx_result>::acquire(); }

protected:
    void destroy() override {
        reset_for_reuse();
        if (!error_object.error.ok()) error_object.error = pyctx::core::Error();
        on_complete = nullptr;
        user_data = nullptr;
        pyctx::core::RequestPool<pyctx_result>::recycle(this);
    }
};

namespace pyctx::capi {

// pyctx_host_call_t is the core's HostCall behind an opaque name: the type
// is declared by the header and never defined, so only these casts meet.
inline core::HostCall *from_c(pyctx_host_call_t *call) {
    return reinterpret_cast<core::HostCall *>(call);
}
inline const core::HostCall *from_c(const pyctx_host_call_t *call) {
    return reinterpret_cast<const core::HostCall *>(call);
}
inline pyctx_host_call_t *to_c(core::HostCall *call) {
    return reinterpret_cast<pyctx_host_call_t *>(call);
}

inline pyctx_error_t *invalid(std::string message) {
    return make_error(PYCTX_ERR_INVALID_ARGUMENT, std::move(message));
}

inline pyctx_error_t *not_running() {
    return make_error(PYCTX_ERR_NOT_RUNNING, "the pyctx runtime is not running");
}

// Checks a required NUL-terminated UTF-8 string argument.
pyctx_error_t *check_text(const char *value, const char *what, bool allow_empty = false);
// Checks optional CBOR of one item whose major type must be `major`
// (4 array, 5 map); NULL/0 means absent.
pyctx_error_t *check_cbor(const uint8_t *data, size_t len, int major, const char *what);

// Runs `body`, turning any escaping C++ exception into an error: nothing
// ever unwinds across the C boundary.
template <class F>
pyctx_error_t *guarded(F &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        return make_error(PYCTX_ERR_INTERNAL, e.what());
    } catch (...) {
        return make_error(PYCTX_ERR_INTERNAL, "unknown internal error");
    }
}

// The body of a text-valued setter of an options object: NULL and UTF-8
// checks, then `apply()`, guarded.
template <class T, class F>
pyctx_error_t *set_text(T *options, const char *text, const char *what, F &&apply,
                        bool allow_empty = false) noexcept {
    return guarded([&]() -> pyctx_error_t * {
        if (!options) return invalid("options is NULL");
        if (auto *e = check_text(text, what, allow_empty)) return e;
        apply();
        return nullptr;
    });
}

}  // namespace pyctx::capi
