// pyctx.Channel in a process context's child: the channel lives in the host
// process, so each operation is a host call under the reserved channel name
// (core/host/builtin_calls.h). The non-blocking ones are answered by the
// host's io thread at once; a wait registers a wake-up token with the
// host's channel, answered when it becomes ready, after which the child
// retries -- the same token scheme as in process, so a waiter that gives up
// (cancelled, timed out) never loses a value. GIL held throughout.
#pragma once

#include <cstdint>

#include "core/python/ref.h"

namespace pyctx::core::remote_channel {

// What the try operations report (as Channel::Result), or failed with a
// Python exception set.
enum class Result { ok, would_block, closed, failed };

// 1 when the host has channel `id` (*bytes_mode set), 0 when it has none,
// -1 with an exception set.
int open(uint64_t id, bool *bytes_mode);
// ok: *value is a new reference to the value received.
Result try_recv(uint64_t id, PyObject **value);
Result try_send(uint64_t id, PyObject *value);
// Blocks (the context keeps serving) until the channel is readable
// (writable) or closed; false with an exception set when the wait was cut
// short (the request stopped, the context closing).
bool wait(uint64_t id, bool writable);
// An awaitable resolved once the channel is readable or closed.
PyObject *readable(uint64_t id);
bool close(uint64_t id);
// 1 closed, 0 open, -1 with an exception set.
int closed(uint64_t id);

}  // namespace pyctx::core::remote_channel
