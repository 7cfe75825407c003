// RAII owners for the handles the draft headers declare (capi/draft/*.h:
// buffers, object handles, streams, pools), beside support/handles.h; they
// join it once the drafts are folded into pyctx.h.
#pragma once

#include <memory>

#include "pyctx.h"
#include "capi/draft/buffers.h"
#include "capi/draft/objects.h"
#include "capi/draft/pools.h"

namespace pyctx_test {

struct BufferDeleter {
    void operator()(pyctx_buffer_t *b) const { pyctx_buffer_free(b); }
};
struct ObjectDeleter {
    void operator()(pyctx_object_t *o) const { pyctx_object_free(o); }
};
struct StreamDeleter {
    void operator()(pyctx_stream_t *s) const { pyctx_stream_free(s); }
};
struct PoolDeleter {
    void operator()(pyctx_pool_t *p) const { pyctx_pool_free(p); }
};
struct PoolOptionsDeleter {
    void operator()(pyctx_pool_options_t *o) const { pyctx_pool_options_free(o); }
};

using Buffer = std::unique_ptr<pyctx_buffer_t, BufferDeleter>;
using Object = std::unique_ptr<pyctx_object_t, ObjectDeleter>;
using Stream = std::unique_ptr<pyctx_stream_t, StreamDeleter>;
using Pool = std::unique_ptr<pyctx_pool_t, PoolDeleter>;
using PoolOptions = std::unique_ptr<pyctx_pool_options_t, PoolOptionsDeleter>;

}  // namespace pyctx_test
