// pyctx.Channel: the Python end of a channel the host made
// (core/host/channel.h), opened by id. A heap type in the pyctx module's
// state, so each interpreter has its own.
//
//   ch = pyctx.Channel(channel_id)
//   v = ch.recv()        # blocks (GIL released, the context keeps serving);
//                        # inside a running asyncio loop it returns an
//                        # awaitable instead: v = await ch.recv()
//   v = await ch.arecv() # always awaitable, on any loop of this thread
//   ok, v = ch.try_recv()
//   ch.send(v)           # blocks while the host's side is full (credit)
//   ch.try_send(v)       # False when full
//   ch.close()
// The end raises pyctx.ChannelClosed (an EOFError).
#pragma once

#include "core/python/ref.h"

namespace pyctx::core {

extern PyType_Spec channel_spec;

// The helper coroutine behind arecv(): Python source run in module exec.
extern const char kChannelHelpers[];

}  // namespace pyctx::core
