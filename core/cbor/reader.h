// CBOR (RFC 8949) decoding primitives: a head reader over a borrowed buffer
// plus the well-formedness checks built on it. Used by the C API's pull
// parser (pyctx_cbor_read/skip), the diagnostic printer, and the Python
// decoder, so that all three accept and reject exactly the same bytes.
//
// Errors are Status::decode with the message
//   "invalid CBOR at byte <offset>: <what>"
// and leave the position untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/error.h"

namespace pyctx::core::cbor {

// The kinds of item head. The numbering equals pyctx_cbor_type in the public
// header (checked by a static_assert in capi/cbor_api.cpp).
enum class Type : uint8_t {
    uint, negint, bytes, text, array, map, tag,             // 0-6: the major types
    false_, true_, null, undefined, float_, simple, break_  // 7-13: major type 7 split
};

// Maximum number of nested arrays/maps (tags do not count: nothing recurses
// on them). Equals PYCTX_CBOR_MAX_DEPTH.
inline constexpr int kMaxDepth = 256;

struct Head {
    Type type = Type::null;
    bool indefinite = false;  // strings/arrays/maps of indefinite length
    // uint: the value; negint: n where the value is -1 - n; bytes/text: the
    // length; array/map: the count; tag: the tag number; simple: its value.
    uint64_t arg = 0;
    double float_value = 0.0;
    const uint8_t *data = nullptr;  // definite strings: the payload
};

// Sets *err to the decode error "invalid CBOR at byte <offset>: <what>" and
// returns false, so callers can write `return fail(err, pos, "...")`.
[[gnu::cold]] bool fail(Error *err, size_t offset, std::string_view what);

// Human-readable name of a head type for messages ("text string", ...).
const char *type_name(Type type);

// The same with an article, e.g. "an unsigned integer", "a text string",
// "an indefinite-length array".
std::string describe(Type type, bool indefinite);

// IEEE 754 binary16 -> double (RFC 8949 Appendix D), NaN/inf preserved.
double half_to_double(uint16_t half);

// True when [data, data+len) is valid UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF). Otherwise *bad_offset (if not null)
// is the offset of the first invalid byte.
bool utf8_valid(const uint8_t *data, size_t len, size_t *bad_offset = nullptr);

namespace detail {
// Builds the message for a read_head failure (`why` selects it; a and b
// are numbers it quotes). Out of line so the inline fast path stays small.
[[gnu::cold]] bool fail_head(Error *err, size_t offset, uint8_t initial, int why,
                             uint64_t a = 0, uint64_t b = 0);
double float_from_bits(uint8_t ai, uint64_t bits);
}  // namespace detail

// Reads the head of the item at *pos. A definite byte/text string's payload
// is bounds-checked and consumed too (Head::data points at it); indefinite
// strings, arrays and maps only consume their head. Rejects what can be
// rejected from the head alone: end of input, truncated arguments or
// payloads, reserved additional information (28-30), indefinite length on
// major types 0, 1 and 6, two-byte simple values below 32, and arrays/maps
// declaring more items than bytes remain (so callers can preallocate
// `arg` slots without trusting the input). Does not check UTF-8.
//
// Inline because the Python decoder calls it once per item.
inline bool read_head(const uint8_t *data, size_t len, size_t *pos, Head *out, Error *err) {
    const size_t start = *pos;
    if (start >= len) return detail::fail_head(err, start, 0, 0);
    const uint8_t initial = data[start];
    const uint8_t major = initial >> 5;
    const uint8_t ai = initial & 0x1f;
    size_t p = start + 1;
    uint64_t arg = ai;
    bool indefinite = false;
    if (ai >= 24) {
        if (ai <= 27) {
            const size_t n = size_t{1} << (ai - 24);
            if (len - p < n) return detail::fail_head(err, start, initial, 1, n, len - p);
            arg = 0;
            for (size_t i = 0; i < n; ++i) arg = (arg << 8) | data[p + i];
            p += n;
        } else if (ai == 31) {
            indefinite = true;
        } else {
            return detail::fail_head(err, start, initial, 2);
        }
    }
    Head h;
    h.indefinite = indefinite;
    h.arg = arg;
    switch (major) {
        case 0:
        case 1:
        case 6:
            if (indefinite) return detail::fail_head(err, start, initial, 3);
            h.type = major == 0 ? Type::uint : major == 1 ? Type::negint : Type::tag;
            break;
        case 2:
        case 3:
            h.type = major == 2 ? Type::bytes : Type::text;
            if (indefinite) {
                h.arg = 0;
            } else {
                if (arg > len - p) return detail::fail_head(err, start, initial, 4, arg, len - p);
                h.data = data + p;
                p += static_cast<size_t>(arg);
            }
            break;
        case 4:
        case 5:
            h.type = major == 4 ? Type::array : Type::map;
            if (indefinite) {
                h.arg = 0;
            } else {
                // Every item takes at least one byte.
                const uint64_t room = len - p;
                if (major == 4 ? arg > room : arg > room / 2)
                    return detail::fail_head(err, start, initial, 5, arg, room);
            }
            break;
        default:  // 7: simple values, floats, break
            switch (ai) {
                case 20: h.type = Type::false_; break;
                case 21: h.type = Type::true_; break;
                case 22: h.type = Type::null; break;
                case 23: h.type = Type::undefined; break;
                case 24:
                    // RFC 8949 §3.3: simple values 0..31 in the two-byte form are
                    // not well-formed.
                    if (arg < 32) return detail::fail_head(err, start, initial, 6, arg);
                    h.type = Type::simple;
                    break;
                case 25:
                case 26:
                case 27:
                    h.type = Type::float_;
                    h.arg = 0;
                    h.float_value = detail::float_from_bits(ai, arg);
                    break;
                case 31:
                    h.type = Type::break_;
                    h.indefinite = false;
                    break;
                default:  // 0..19
                    h.type = Type::simple;
                    break;
            }
            break;
    }
    *out = h;
    *pos = p;
    return true;
}

// Given *pos just after the head of an indefinite-length string of `type`
// (bytes or text), checks its chunks up to and including the break: each must
// be a definite string of the same major type (and valid UTF-8 for text when
// check_utf8). On success *pos is after the break and *total_len the sum of
// the chunk lengths.
bool scan_chunks(const uint8_t *data, size_t len, size_t *pos, Type type, bool check_utf8,
                 size_t *total_len, Error *err);

// Copies the chunks of an indefinite-length string already checked by
// scan_chunks (pos just after its head) into dst, which has room for the
// total length.
void copy_chunks(const uint8_t *data, size_t len, size_t pos, uint8_t *dst);

// Skips one complete, well-formed data item starting at *pos (everything
// nested in it included): rejects whatever read_head rejects plus a break
// where an item is expected, bad chunks of indefinite strings, nesting deeper
// than kMaxDepth and (when check_utf8) text that is not valid UTF-8. On
// failure *pos is unchanged.
bool skip_item(const uint8_t *data, size_t len, size_t *pos, Error *err, bool check_utf8 = true);

// True when [data, data+len) is exactly one well-formed item (skip_item plus
// the "trailing bytes" check every whole-buffer consumer needs).
bool check_single_item(const uint8_t *data, size_t len, Error *err);

}  // namespace pyctx::core::cbor
