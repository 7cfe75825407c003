// The C API's opaque handle types and the helpers every capi/ file shares:
// argument checks and the exception barrier.
#pragma once

#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "capi/c_error.h"
#include "core/base/futex.h"
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
    bool close_on_free = true;  // false for a pool member's handle (the pool owns it)
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

// The steady-clock deadline of a timeout counted from now (0: none).
inline int64_t deadline_from(uint32_t timeout_ms) {
    return timeout_ms == PYCTX_NO_TIMEOUT ? 0
                                          : core::now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
}

inline pyctx_error_t *invalid(std::string message) {
    return make_error(PYCTX_ERR_INVALID_ARGUMENT, std::move(message));
}

inline pyctx_error_t *not_running() {
    return make_error(PYCTX_ERR_NOT_RUNNING, "the pyctx runtime is not running");
}

// Checks a required NUL-terminated UTF-8 string argument; *out_len (may be
// null) receives its length, so a caller that copies it need not count again.
pyctx_error_t *check_text(const char *value, const char *what, bool allow_empty = false,
                          size_t *out_len = nullptr);
// Checks an enum argument, read as an int before anything else touches it
// (loading an out-of-range enum is undefined behaviour): a value outside
// `allowed` is refused naming `what`, the value and `expected`.
pyctx_error_t *check_enum(int value, std::initializer_list<int> allowed, const char *what,
                          const char *expected);
// Checks optional CBOR of one item whose major type must be `major`
// (4 array, 5 map); NULL/0 means absent.
pyctx_error_t *check_cbor(const uint8_t *data, size_t len, int major, const char *what);

// The request-building steps every one-call entry point shares (contexts
// and pools; request_api.cpp):
// checks and copies the arguments of a call (`target` module, `text`
// function), eval or exec into `r`, with its deadline; an error for bad
// arguments (the request is then not submitted).
pyctx_error_t *fill_request(core::Request *r, core::RequestKind kind, const char *target,
                            const char *text, const char *text_what, const uint8_t *args,
                            size_t args_len, const uint8_t *kwargs, size_t kwargs_len,
                            uint64_t env_id, uint32_t timeout_ms);
// Makes `r` complete through the C callback `on_complete(user_data, ...)`.
void complete_through_c(pyctx_result *r, pyctx_completion_fn on_complete, void *user_data);

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

}  // namespace pyctx::capi
