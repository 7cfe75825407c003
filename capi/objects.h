// Object handles on the host side: what a pyctx_object_t is, and the helpers
// the request object and the stream code share. A handle is plain data --
// its context, the context's table key and the handle id -- so it travels
// in requests as an integer and in CBOR as the object-reference tag.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "capi/handles.h"

namespace pyctx::capi {

struct ObjectRef {
    std::shared_ptr<core::Context> ctx;
    uint64_t key = 0, id = 0;
    // Set once a release was submitted (or the handle freed): every later
    // use is refused here, before it reaches the context.
    std::atomic<bool> released{false};
};

// NULL when `ref` may be used in a request to `ctx`; else the error (another
// context, released, context closed).
pyctx_error_t *check_object_use(const ObjectRef &ref, const core::Context *ctx);

// A new handle for an outcome whose value is an object reference made by
// `ctx` (the executor set outcome.object_id); nullptr when out of memory
// (the reference is then released).
pyctx_object_t *object_from_outcome(const std::shared_ptr<core::Context> &ctx,
                                    const core::Outcome &outcome);

// Marks `ref` released and posts its release to the context without
// waiting (nothing to do when the context is closed: the reference went
// with it). Once only: later calls do nothing.
void release_without_waiting(ObjectRef &ref);

}  // namespace pyctx::capi

struct pyctx_object {
    std::shared_ptr<pyctx::capi::ObjectRef> ref;
};
