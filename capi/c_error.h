// The C API's error object: an owned core::Error behind the opaque
// pyctx_error_t. Every capi/ file builds errors through these helpers.
#pragma once

#include "pyctx.h"
#include "core/base/error.h"

struct pyctx_error {
    pyctx::core::Error error;
};

namespace pyctx::capi {

// Never returns NULL for a non-ok status: if allocating the error itself
// fails, a static out-of-memory error object is returned (its free is a
// no-op).
pyctx_error_t *make_error(core::Error error);
pyctx_error_t *make_error(pyctx_status status, std::string message);

// NULL for an ok error, else make_error(error).
inline pyctx_error_t *to_c(core::Error error) {
    return error.ok() ? nullptr : make_error(std::move(error));
}

}  // namespace pyctx::capi
