// CBOR (RFC 8949) encoding primitives, written once and shared by the C API
// writer (capi/cbor_api.cpp) and the Python encoder (core/cbor_python.cpp).
//
// Every function appends to a ByteBuffer and returns false only when memory
// is exhausted (the buffer may then hold a partial item; callers discard it).
// Heads always use the shortest form (RFC 8949 §4.2.1 "preferred
// serialization" for the argument); floats are always written as float64 so
// every producer in the project emits the same bytes for the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/base/byte_buffer.h"

namespace pyctx::core::cbor {

// The eight major types (the top three bits of an initial byte).
// `simple` covers simple values, floats and break.
enum class Major : uint8_t { uint, negint, bytes, text, array, map, tag, simple };

// Initial bytes of the fixed simple values.
inline constexpr uint8_t kFalse = 0xf4;
inline constexpr uint8_t kTrue = 0xf5;
inline constexpr uint8_t kNull = 0xf6;
inline constexpr uint8_t kUndefined = 0xf7;
inline constexpr uint8_t kFloat64 = 0xfb;
inline constexpr uint8_t kBreak = 0xff;
inline constexpr size_t kMaxHeadSize = 9;

// Encodes a head (major type + argument) into dst, which must have room for
// kMaxHeadSize bytes, and returns its length. Inline: it is on the hot path
// of every value the library encodes.
inline size_t encode_head(uint8_t *dst, Major major, uint64_t arg) {
    const auto mt = static_cast<uint8_t>(static_cast<uint8_t>(major) << 5);
    if (arg < 24) {
        dst[0] = static_cast<uint8_t>(mt | arg);
        return 1;
    }
    if (arg <= 0xff) {
        dst[0] = mt | 24;
        dst[1] = static_cast<uint8_t>(arg);
        return 2;
    }
    if (arg <= 0xffff) {
        dst[0] = mt | 25;
        dst[1] = static_cast<uint8_t>(arg >> 8);
        dst[2] = static_cast<uint8_t>(arg);
        return 3;
    }
    if (arg <= 0xffffffffu) {
        dst[0] = mt | 26;
        for (int i = 0; i < 4; ++i) dst[1 + i] = static_cast<uint8_t>(arg >> (24 - 8 * i));
        return 5;
    }
    dst[0] = mt | 27;
    for (int i = 0; i < 8; ++i) dst[1 + i] = static_cast<uint8_t>(arg >> (56 - 8 * i));
    return 9;
}

[[nodiscard]] inline bool write_head(ByteBuffer &out, Major major, uint64_t arg) {
    uint8_t head[kMaxHeadSize];
    return out.append(head, encode_head(head, major, arg));
}

// A signed integer as major type 0 or 1 (-1 - n for negatives).
[[nodiscard]] inline bool write_int(ByteBuffer &out, int64_t v) {
    // For v < 0, -1 - v == ~v, which cannot overflow (unlike -v for INT64_MIN).
    return v >= 0 ? write_head(out, Major::uint, static_cast<uint64_t>(v))
                  : write_head(out, Major::negint, ~static_cast<uint64_t>(v));
}

[[nodiscard]] inline bool write_uint(ByteBuffer &out, uint64_t v) {
    return write_head(out, Major::uint, v);
}

// A head followed by a payload (byte or text string), reserving once.
[[nodiscard]] inline bool write_string(ByteBuffer &out, Major major, const void *data,
                                       size_t len) {
    if (!out.reserve(kMaxHeadSize + len)) return false;
    return write_head(out, major, len) && out.append(data, len);
}

[[nodiscard]] inline bool write_text(ByteBuffer &out, const char *text, size_t len) {
    return write_string(out, Major::text, text, len);
}

[[nodiscard]] inline bool write_bytes(ByteBuffer &out, const void *data, size_t len) {
    return write_string(out, Major::bytes, data, len);
}

[[nodiscard]] inline bool write_bool(ByteBuffer &out, bool v) {
    return out.push(v ? kTrue : kFalse);
}

[[nodiscard]] inline bool write_null(ByteBuffer &out) { return out.push(kNull); }

// Always float64 (0xfb + 8 bytes big-endian): NaN payloads and -0.0 survive.
[[nodiscard]] bool write_double(ByteBuffer &out, double v);

}  // namespace pyctx::core::cbor
