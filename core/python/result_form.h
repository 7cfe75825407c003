// A Python result in the form its request asked for (Request::result_form):
// CBOR by default, or a view pinned for the host. The one place where the
// runner and the event loop turn a result into an outcome.
#pragma once

#include "core/python/convert.h"  // Python.h, PyTypes

#include "core/request/request.h"

namespace pyctx::core {

class ContextThread;

// Fills `out` from `value` (borrowed). False with out->error set when the
// value cannot take the requested form. With the GIL held.
bool result_to_outcome(const Request &r, PyObject *value, const PyTypes &types,
                       ContextThread &thread, Outcome *out);

}  // namespace pyctx::core
