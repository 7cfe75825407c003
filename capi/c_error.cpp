// The C API error object and owned byte buffers.
#include "capi/c_error.h"

#include <cstdlib>
#include <new>

using pyctx::core::Error;
using pyctx::core::Status;

// The core re-declares the status enum; keep the numbers in step.

namespace {

// Returned when the error object itself cannot be allocated. Its message fits
// the small-string buffer, so building it allocates nothing; never freed.
pyctx_error g_out_of_memory{Error(Status::no_memory, "out of memory")};

}  // namespace

namespace pyctx::capi {

pyctx_error_t *make_error(core::Error error) {
    try {
        if (error.ok()) error = core::Error(Status::internal, "error object built from an ok status");
    } catch (...) {
        return &g_out_of_memory;
    }
    auto *e = new (std::nothrow) pyctx_error;
    if (!e) return &g_out_of_memory;
    e->error = std::move(error);  // moving strings does not allocate
    return e;
}

pyctx_error_t *make_error(pyctx_status status, std::string message) {
    return make_error(core::Error(static_cast<Status>(status), std::move(message)));
}

}  // namespace pyctx::capi

extern "C" {

PYCTX_API void pyctx_error_free(pyctx_error_t *error) {
    if (error && error != &g_out_of_memory) delete error;
}

PYCTX_API pyctx_status pyctx_error_status(const pyctx_error_t *error) {
    if (!error) return PYCTX_ERR_INVALID_ARGUMENT;
    return static_cast<pyctx_status>(error->error.status);
}

PYCTX_API const char *pyctx_error_message(const pyctx_error_t *error) {
    return error ? error->error.message.c_str() : "";
}

PYCTX_API const char *pyctx_error_python_type(const pyctx_error_t *error) {
    if (!error || error->error.status != Status::python) return "";
    return error->error.python_type.c_str();
}

PYCTX_API const char *pyctx_error_traceback(const pyctx_error_t *error) {
    if (!error || error->error.status != Status::python) return "";
    return error->error.traceback.c_str();
}

PYCTX_API const char *pyctx_status_name(pyctx_status status) {
    switch (status) {
        case PYCTX_OK: return "ok";
        case PYCTX_ERR_INVALID_ARGUMENT: return "invalid_argument";
        case PYCTX_ERR_NOT_RUNNING: return "not_running";
        case PYCTX_ERR_ALREADY_INITIALIZED: return "already_initialized";
        case PYCTX_ERR_UNSUPPORTED: return "unsupported";
        case PYCTX_ERR_CLOSED: return "closed";
        case PYCTX_ERR_QUEUE_FULL: return "queue_full";
        case PYCTX_ERR_CANCELLED: return "cancelled";
        case PYCTX_ERR_TIMEOUT: return "timeout";
        case PYCTX_ERR_PYTHON: return "python";
        case PYCTX_ERR_DECODE: return "decode";
        case PYCTX_ERR_ENCODE: return "encode";
        case PYCTX_ERR_NOT_FOUND: return "not_found";
        case PYCTX_ERR_NO_MEMORY: return "no_memory";
        case PYCTX_ERR_STUCK: return "stuck";
        case PYCTX_ERR_INTERNAL: return "internal";
        case PYCTX_ERR_CRASHED: return "crashed";
    }
    return "unknown";
}

PYCTX_API void pyctx_bytes_free(pyctx_bytes_t *bytes) {
    if (!bytes) return;
    std::free(bytes->data);
    bytes->data = nullptr;
    bytes->len = 0;
}

}  // extern "C"
