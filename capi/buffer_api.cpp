// Borrowed buffers (pyctx_buffer_*): a handle is one reference to a
// core::Buffer (core/request/buffers.h), which ends the loan when its last
// reference goes. The request-object side lives in request_object.cpp.
#include <cstring>

#include "capi/buffer_handle.h"
#include "capi/handles.h"

using namespace pyctx;
using capi::guarded;
using capi::from_c;
using capi::invalid;
using capi::to_c;

namespace {

// A lent empty buffer still needs an address: Python's memoryview wants one.
uint8_t g_empty[1];

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_buffer_lend(void *data, size_t len, int writable,
                                           pyctx_free_fn finalizer, void *user_data,
                                           pyctx_buffer_t **out_buffer) {
    return guarded([&]() -> pyctx_error_t * {
        if (!out_buffer) return invalid("out_buffer is NULL");
        if (!data && len) return invalid("data is NULL but len is not 0");
        if (writable != 0 && writable != 1) return invalid("writable must be 0 or 1");
        *out_buffer = to_c(core::Buffer::lend(data ? data : g_empty, len, writable == 1,
                                              finalizer, user_data));
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_buffer_alloc(size_t len, pyctx_buffer_t **out_buffer) {
    return guarded([&]() -> pyctx_error_t * {
        if (!out_buffer) return invalid("out_buffer is NULL");
        core::Buffer *b = core::Buffer::allocate(len);
        if (!b) {
            return capi::make_error(PYCTX_ERR_NO_MEMORY,
                                    "cannot allocate a buffer of " + std::to_string(len) + " bytes");
        }
        *out_buffer = to_c(b);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_buffer_set_format(pyctx_buffer_t *buffer, const char *format) {
    return guarded([&]() -> pyctx_error_t * {
        if (!buffer) return invalid("buffer is NULL");
        if (!format) return invalid("format is NULL");
        return capi::to_c(from_c(buffer)->set_format(format));
    });
}

PYCTX_API pyctx_error_t *pyctx_buffer_set_shape(pyctx_buffer_t *buffer, int ndim,
                                                const int64_t *shape, const int64_t *strides) {
    return guarded([&]() -> pyctx_error_t * {
        if (!buffer) return invalid("buffer is NULL");
        return capi::to_c(from_c(buffer)->set_shape(ndim, shape, strides));
    });
}

PYCTX_API void *pyctx_buffer_data(const pyctx_buffer_t *buffer, size_t *out_len) {
    if (!buffer) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    const core::Buffer *b = from_c(buffer);
    if (out_len) *out_len = b->size();
    return b->data();
}

PYCTX_API pyctx_error_t *pyctx_buffer_info(const pyctx_buffer_t *buffer,
                                           pyctx_buffer_info_t *out_info, size_t info_size) {
    if (!buffer) return invalid("buffer is NULL");
    if (!out_info) return invalid("out_info is NULL");
    const core::Buffer *b = from_c(buffer);
    const core::BufferLayout &l = b->layout();
    pyctx_buffer_info_t full;
    std::memset(&full, 0, sizeof full);
    full.data = b->data();
    full.len = l.element_bytes();
    full.itemsize = l.itemsize;
    full.format = l.format.c_str();
    full.ndim = l.ndim();
    full.shape = l.shape.data();
    full.strides = l.strides.data();
    full.readonly = b->readonly() ? 1 : 0;
    full.c_contiguous = l.c_contiguous ? 1 : 0;
    full.memory = static_cast<pyctx_buffer_memory>(b->memory());
    std::memcpy(out_info, &full, info_size < sizeof full ? info_size : sizeof full);
    return nullptr;
}

PYCTX_API void pyctx_buffer_free(pyctx_buffer_t *buffer) {
    if (buffer) from_c(buffer)->release();
}

PYCTX_API pyctx_error_t *pyctx_context_buffer_stats(const pyctx_context_t *context,
                                                    pyctx_buffer_stats_t *out_stats,
                                                    size_t stats_size) {
    if (!context) return invalid("context is NULL");
    if (!out_stats) return invalid("out_stats is NULL");
    const core::BufferLedger &l = *context->ctx->buffers();
    pyctx_buffer_stats_t full = {l.lent_views.load(std::memory_order_acquire),
                                 l.lent_total.load(std::memory_order_acquire), l.held()};
    std::memcpy(out_stats, &full, stats_size < sizeof full ? stats_size : sizeof full);
    return nullptr;
}

}  // extern "C"
