// RFC 8949 §8 diagnostic notation: a human-readable rendering of one CBOR
// data item, for logs, error messages and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/base/error.h"

namespace pyctx::core::cbor {

// Renders the single data item that fills [data, data+len) into *out
// (replacing its contents), e.g. `[1, "a", h'00ff', 258([1, 2])]`.
// Ill-formed input, invalid UTF-8 in text, nesting deeper than kMaxDepth and
// trailing bytes fail with a Status::decode error. May throw std::bad_alloc.
bool diagnose(const uint8_t *data, size_t len, std::string *out, Error *err);

// Formats a double the way diagnostic notation writes it: shortest
// round-trip digits, always with a '.' or exponent ("1.0", "1.5",
// "1.0e+300", "5.960464477539063e-8"), and NaN, Infinity, -Infinity.
std::string format_double(double v);

}  // namespace pyctx::core::cbor
