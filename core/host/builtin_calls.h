// The host's own state reached from a process context's child: the shared
// store, pyctx.send and channels. The child's Python has no copy of either (they live
// in the host process), so its pyctx.store_* and pyctx.send make a host call
// under a reserved name, and the host answers it here. No Python here: the
// child's side is core/python/store_py.cpp and send_py.cpp.
//
// A reserved name starts with a NUL byte, which no registered host function
// can have (the C API takes names as C strings), so a host can never shadow
// one and a user's pyctx.call never reaches one by accident.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"

namespace pyctx::core {
struct HostCall;
}

namespace pyctx::core::builtin {

inline constexpr std::string_view kStore{"\0pyctx.store", 12};
inline constexpr std::string_view kSend{"\0pyctx.send", 11};
inline constexpr std::string_view kChannel{"\0pyctx.channel", 14};

inline bool is_store(std::string_view name) { return name == kStore; }
inline bool is_send(std::string_view name) { return name == kSend; }
inline bool is_channel(std::string_view name) { return name == kChannel; }

// The store operation, the first element of a kStore call's arguments.
enum class StoreOp : uint8_t { get = 0, put = 1, cas = 2, erase = 3, keys = 4 };

// Runs one store call. `args` is the CBOR array [op, ...]:
//   get   [0, key]                  -> [] when absent, else [value, version]
//   put   [1, key, value]           -> [true, version] or [false, status, message]
//   cas   [2, key, expected, value] -> [true, swapped, version] or [false, status, message]
//   erase [3, key, expected]        -> removed (bool)
//   keys  [4, prefix]               -> [key, ...] (sorted)
// Never calls user code and never blocks, so the process io thread answers
// it inline. False (with *error) only for arguments no child ever sends.
bool run_store(std::string_view args, ByteBuffer &answer, std::string *error);

// The channel operation, the first element of a kChannel call's arguments.
enum class ChannelOp : uint8_t {
    open = 0, try_recv = 1, try_send = 2, wait_readable = 3, wait_writable = 4, close = 5,
    closed = 6,
};
// What try_recv and try_send answer first.
enum class ChannelResult : uint8_t { ok = 0, would_block = 1, closed = 2 };

// Runs one channel call that never waits. `args` is [op, id, ...]:
//   open     [0, id]        -> [true, bytes_mode] | [false] (no such channel)
//   try_recv [1, id]        -> [0, value] | [1] | [2]   (ChannelResult)
//   try_send [2, id, value] -> [0] | [1] | [2]
//   close    [5, id]        -> null
//   closed   [6, id]        -> bool
// A channel the host freed meanwhile counts as closed. The two wait
// operations (3, 4) need a wake-up token: see channel_wait().
// `max_answer` bounds the answer (a process context's message room): a
// value try_recv could not fit in it stays queued and the call fails with an
// *error that says so, so a value is never taken off the queue only to be
// lost.
bool run_channel(std::string_view args, ByteBuffer &answer, std::string *error,
                 size_t max_answer = SIZE_MAX);
// The op of a channel call (false when unreadable).
bool channel_op(std::string_view args, ChannelOp *op);
// wait_readable / wait_writable [op, id]: registers `token` (one reference
// for the channel) to be answered null once the channel is readable
// (writable) or closed; answers it at once when it is already, or when the
// channel is gone. False (with *error) for malformed arguments; the token
// is then the caller's to fail.
bool channel_wait(std::string_view args, HostCall *token, std::string *error);

// Runs one send call: `args` is [target, value, by_name]. by_name is true
// when the child's target was an exact str (a named endpoint), false for
// any other target (the router). Answers [true] when delivered, else
// [false, message]; the child raises or returns False (missing_ok).
// Calls the endpoint's send function, which must not block (pyctx.h): the
// process io thread runs it inline, in ring order.
bool run_send(std::string_view context_name, std::string_view args, ByteBuffer &answer,
              std::string *error);

}  // namespace pyctx::core::builtin
