// pyctx_buffer_t is the core's Buffer behind an opaque name (declared by the
// header, never defined), like pyctx_host_call_t: a handle is one reference.
#pragma once

#include "core/request/buffers.h"
#include "pyctx.h"

namespace pyctx::capi {

inline core::Buffer *from_c(pyctx_buffer_t *b) { return reinterpret_cast<core::Buffer *>(b); }
inline const core::Buffer *from_c(const pyctx_buffer_t *b) {
    return reinterpret_cast<const core::Buffer *>(b);
}
inline pyctx_buffer_t *to_c(core::Buffer *b) { return reinterpret_cast<pyctx_buffer_t *>(b); }

}  // namespace pyctx::capi
