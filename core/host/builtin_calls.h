// The host's own state reached from a process context's child: the shared
// store and pyctx.send. The child's Python has no copy of either (they live
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

namespace pyctx::core::builtin {

inline constexpr std::string_view kStore{"\0pyctx.store", 12};
inline constexpr std::string_view kSend{"\0pyctx.send", 11};

inline bool is_store(std::string_view name) { return name == kStore; }
inline bool is_send(std::string_view name) { return name == kSend; }

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

// Runs one send call: `args` is [target, value, by_name]. by_name is true
// when the child's target was an exact str (a named endpoint), false for
// any other target (the router). Answers [true] when delivered, else
// [false, message]; the child raises or returns False (missing_ok).
// Calls the endpoint, which is user code: never on the io thread.
bool run_send(std::string_view context_name, std::string_view args, ByteBuffer &answer,
              std::string *error);

}  // namespace pyctx::core::builtin
