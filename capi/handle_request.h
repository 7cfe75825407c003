// The engine request a C handle submits and is found again by on
// completion: a request object's submission (request_object.cpp), a
// stream's messages (stream_api.cpp).
#pragma once

#include "core/request/request.h"
#include "core/request/request_pool.h"

namespace pyctx::capi {

// An engine request pointing back at the `Handle` it was made for,
// recycled through a free list of its own.
template <class Handle>
struct HandleRequest final : core::Request {
    Handle *handle = nullptr;

    static HandleRequest *make() { return core::RequestPool<HandleRequest>::acquire(); }

protected:
    void destroy() override {
        reset_for_reuse();
        handle = nullptr;
        core::RequestPool<HandleRequest>::recycle(this);
    }
};

}  // namespace pyctx::capi
