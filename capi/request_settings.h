// What other capi files need from a request object's settings (the type is
// private to request_object.cpp): the stream code builds its open request
// from them.
#pragma once

#include <memory>

#include "capi/handles.h"

namespace pyctx::capi {

// Checks the settings of `h` (destination, kind, arguments, env, object
// handle, result form) and copies them into `r`, giving it its id and
// deadline; an error for bad settings.
pyctx_error_t *fill_engine_request(pyctx_request_t *h, core::Request *r);
// The destination context of `h` (nullptr: not set). With a pool
// destination, only the member of its last submission.
std::shared_ptr<core::Context> request_context(const pyctx_request_t *h);
// True when `h` goes to a pool (pyctx_request_set_pool).
bool request_has_pool(const pyctx_request_t *h);
// The kind of `h` as an int (the object kinds are not in the enum yet).
int request_kind(const pyctx_request_t *h);

}  // namespace pyctx::capi
