// The CBOR tag numbers of pyctx's value mapping: the core's one source of
// truth (capi/abi_checks.cpp checks each against include/pyctx.h).
#pragma once

#include <cstdint>

namespace pyctx::core::cbor {

inline constexpr uint64_t kTagPositiveBignum = 2;  // RFC 8949
inline constexpr uint64_t kTagNegativeBignum = 3;  // RFC 8949
inline constexpr uint64_t kTagSymbol = 39;         // identifier (Erlang atoms)
inline constexpr uint64_t kTagSet = 258;           // finite set
inline constexpr uint64_t kTagTuple = 28793;       // 0x7079, "py"
inline constexpr uint64_t kTagHostTerm = 28794;    // 0x707A, opaque host data
// An object handle: encloses [context key, handle id] (two unsigned ints).
inline constexpr uint64_t kTagObjectRef = 28796;   // 0x707C
// An unsigned int: the index of a buffer attached to the request (lent
// without a copy; Python sees a memoryview). Only in request arguments.
inline constexpr uint64_t kTagBuffer = 28770;      // 0x7062, "pb"

}  // namespace pyctx::core::cbor
