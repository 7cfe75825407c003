#include "core/cbor/reader.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace pyctx::core::cbor {

bool fail(Error *err, size_t offset, std::string_view what) {
    std::string msg = "invalid CBOR at byte " + std::to_string(offset) + ": ";
    msg.append(what);
    *err = Error(Status::decode, std::move(msg));
    return false;
}

const char *type_name(Type type) {
    switch (type) {
        case Type::uint: return "unsigned integer";
        case Type::negint: return "negative integer";
        case Type::bytes: return "byte string";
        case Type::text: return "text string";
        case Type::array: return "array";
        case Type::map: return "map";
        case Type::tag: return "tag";
        case Type::false_: return "false";
        case Type::true_: return "true";
        case Type::null: return "null";
        case Type::undefined: return "undefined";
        case Type::float_: return "float";
        case Type::simple: return "simple value";
        case Type::break_: return "break";
    }
    return "unknown item";
}

std::string describe(Type type, bool indefinite) {
    if (indefinite) return std::string("an indefinite-length ") + type_name(type);
    const char *name = type_name(type);
    const bool vowel = std::strchr("aeiou", name[0]) != nullptr;
    return std::string(vowel ? "an " : "a ") + name;
}

namespace {

const char *major_name(uint8_t initial) {
    static const char *const names[8] = {"unsigned integer", "negative integer", "byte string",
                                         "text string",      "array",            "map",
                                         "tag",              "simple value"};
    return names[initial >> 5];
}

}  // namespace

namespace detail {

bool fail_head(Error *err, size_t offset, uint8_t initial, int why, uint64_t a, uint64_t b) {
    char msg[160];
    const auto ull = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    switch (why) {
        case 0:
            std::snprintf(msg, sizeof msg, "unexpected end of input (truncated item)");
            break;
        case 1:
            std::snprintf(msg, sizeof msg,
                          "truncated item head (initial byte 0x%02x needs %llu more bytes, %llu "
                          "left)",
                          initial, ull(a), ull(b));
            break;
        case 2:
            std::snprintf(msg, sizeof msg,
                          "reserved additional information value %d (initial byte 0x%02x)",
                          initial & 0x1f, initial);
            break;
        case 3:
            std::snprintf(msg, sizeof msg,
                          "indefinite length is not allowed for a %s (initial byte 0x%02x)",
                          major_name(initial), initial);
            break;
        case 4:
            std::snprintf(msg, sizeof msg, "truncated %s (declares %llu bytes, %llu left)",
                          major_name(initial), ull(a), ull(b));
            break;
        case 5:
            std::snprintf(msg, sizeof msg, "truncated %s (declares %llu %s, only %llu bytes left)",
                          major_name(initial), ull(a), (initial >> 5) == 4 ? "items" : "pairs",
                          ull(b));
            break;
        case 6:
            std::snprintf(msg, sizeof msg,
                          "simple value %llu must not use the two-byte form (not well-formed)",
                          ull(a));
            break;
        default:
            std::snprintf(msg, sizeof msg, "malformed item (initial byte 0x%02x)", initial);
            break;
    }
    return fail(err, offset, msg);
}

double float_from_bits(uint8_t ai, uint64_t bits) {
    if (ai == 25) return half_to_double(static_cast<uint16_t>(bits));
    if (ai == 26) {
        const auto b32 = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &b32, sizeof f);
        return f;
    }
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

}  // namespace detail

double half_to_double(uint16_t half) {
    const int exp = (half >> 10) & 0x1f;
    const unsigned mant = half & 0x3ff;
    if (exp == 31) {
        // Build the double's bits directly so a NaN keeps its payload.
        uint64_t bits = (uint64_t{half & 0x8000u} << 48) | (uint64_t{0x7ff} << 52) |
                        (uint64_t{mant} << 42);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }
    const double v = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(mant + 1024, exp - 25);
    return (half & 0x8000) ? -v : v;
}

bool utf8_valid(const uint8_t *s, size_t n, size_t *bad_offset) {
    size_t i = 0;
    while (i < n) {
        // ASCII fast path, eight bytes at a time.
        if (n - i >= 8) {
            uint64_t w;
            std::memcpy(&w, s + i, sizeof w);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        const uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        // Number of continuation bytes and the allowed range of the first
        // one (narrowed to exclude overlongs, surrogates and > U+10FFFF).
        size_t extra;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        if (n - i <= extra) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        for (size_t k = 2; k <= extra; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) {
                if (bad_offset) *bad_offset = i;
                return false;
            }
        }
        i += extra + 1;
    }
    return true;
}

namespace {

bool fail_utf8(Error *err, size_t head_offset, size_t bad_byte) {
    return fail(err, head_offset,
                "text string is not valid UTF-8 (bad byte at " + std::to_string(bad_byte) + ")");
}

}  // namespace

bool scan_chunks(const uint8_t *data, size_t len, size_t *pos, Type type, bool check_utf8,
                 size_t *total_len, Error *err) {
    size_t p = *pos;
    size_t total = 0;
    for (;;) {
        if (p >= len)
            return fail(err, p,
                        std::string("unterminated indefinite-length ") + type_name(type) +
                            " (missing break)");
        if (data[p] == 0xff) {
            ++p;
            break;
        }
        const size_t chunk_at = p;
        Head h;
        if (!read_head(data, len, &p, &h, err)) return false;
        if (h.type != type || h.indefinite) {
            return fail(err, chunk_at,
                        std::string("chunk of an indefinite-length ") + type_name(type) +
                            " must be a definite-length " + type_name(type) + ", not " +
                            describe(h.type, h.indefinite));
        }
        size_t bad;
        if (check_utf8 && type == Type::text && !utf8_valid(h.data, h.arg, &bad))
            return fail_utf8(err, chunk_at, static_cast<size_t>(h.data - data) + bad);
        total += static_cast<size_t>(h.arg);
    }
    *pos = p;
    *total_len = total;
    return true;
}

void copy_chunks(const uint8_t *data, size_t len, size_t pos, uint8_t *dst) {
    Error ignored;
    while (pos < len && data[pos] != 0xff) {
        Head h;
        if (!read_head(data, len, &pos, &h, &ignored)) return;  // cannot happen after scan_chunks
        if (h.arg) std::memcpy(dst, h.data, static_cast<size_t>(h.arg));
        dst += h.arg;
    }
}

namespace {

// The length of the well-formed integer, simple value or float at `pos`
// (pos < len), read off its initial byte; 0 for any other item and for
// anything read_head would reject, which then takes the full path and its
// messages. Most arguments are such scalars, and a Head (with a float's
// value converted) costs several times this.
inline size_t scalar_length(const uint8_t *data, size_t len, size_t pos) {
    const uint8_t initial = data[pos];
    const uint8_t major = initial >> 5, ai = initial & 0x1f;
    if (major != 0 && major != 1 && major != 7) return 0;
    if (ai < 24) return 1;
    if (ai > 27) return 0;  // reserved, break, indefinite
    const size_t n = size_t{1} << (ai - 24);
    if (len - pos - 1 < n) return 0;
    if (major == 7 && ai == 24 && data[pos + 1] < 32) return 0;  // two-byte simple below 32
    return 1 + n;
}

bool skip_rec(const uint8_t *data, size_t len, size_t *pos, int depth, bool check_utf8,
              Error *err);

// One item of a container: a scalar without a call, anything else through
// skip_rec.
inline bool skip_member(const uint8_t *data, size_t len, size_t *pos, int depth, bool check_utf8,
                        Error *err) {
    if (*pos < len) {
        if (const size_t n = scalar_length(data, len, *pos)) {
            *pos += n;
            return true;
        }
    }
    return skip_rec(data, len, pos, depth, check_utf8, err);
}

bool skip_rec(const uint8_t *data, size_t len, size_t *pos, int depth, bool check_utf8,
              Error *err) {
    // Tags loop here instead of recursing: a long chain of tags must not be
    // able to exhaust the stack.
    for (;;) {
        const size_t start = *pos;
        if (start < len) {
            if (const size_t n = scalar_length(data, len, start)) {
                *pos = start + n;
                return true;
            }
            // A short definite array or map (argument lists, keyword maps):
            // its head read here, its scalar items skipped without a call.
            // Only what read_head accepts: the depth and the item count
            // against the bytes left are checked first, as there.
            const uint8_t major = data[start] >> 5, ai = data[start] & 0x1f;
            const size_t room = len - start - 1;
            if ((major == 4 || major == 5) && ai < 24 && depth < kMaxDepth &&
                (major == 4 ? ai <= room : ai <= room / 2)) {
                const size_t items = major == 5 ? size_t{ai} * 2 : ai;
                *pos = start + 1;
                for (size_t i = 0; i < items; ++i)
                    if (!skip_member(data, len, pos, depth + 1, check_utf8, err)) return false;
                return true;
            }
        }
        Head h;
        if (!read_head(data, len, pos, &h, err)) return false;
        switch (h.type) {
            case Type::tag:
                continue;
            case Type::break_:
                return fail(err, start, "unexpected break (0xff) outside an indefinite-length item");
            case Type::bytes:
            case Type::text:
                if (h.indefinite) {
                    size_t total;
                    return scan_chunks(data, len, pos, h.type, check_utf8, &total, err);
                }
                if (check_utf8 && h.type == Type::text) {
                    size_t bad;
                    if (!utf8_valid(h.data, h.arg, &bad))
                        return fail_utf8(err, start, static_cast<size_t>(h.data - data) + bad);
                }
                return true;
            case Type::array:
            case Type::map: {
                if (depth >= kMaxDepth)
                    return fail(err, start,
                                "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
                const int per = h.type == Type::map ? 2 : 1;
                if (h.indefinite) {
                    for (;;) {
                        if (*pos >= len)
                            return fail(err, *pos,
                                        std::string("unterminated indefinite-length ") +
                                            type_name(h.type) + " (missing break)");
                        if (data[*pos] == 0xff) {
                            ++*pos;
                            return true;
                        }
                        // A break between a key and its value lands in the
                        // value's skip_rec and is rejected there.
                        for (int k = 0; k < per; ++k)
                            if (!skip_member(data, len, pos, depth + 1, check_utf8, err))
                                return false;
                    }
                }
                for (uint64_t i = 0; i < h.arg; ++i)
                    for (int k = 0; k < per; ++k)
                        if (!skip_member(data, len, pos, depth + 1, check_utf8, err)) return false;
                return true;
            }
            default:
                return true;
        }
    }
}

}  // namespace

bool skip_item(const uint8_t *data, size_t len, size_t *pos, Error *err, bool check_utf8) {
    size_t p = *pos;
    if (!skip_rec(data, len, &p, 0, check_utf8, err)) return false;
    *pos = p;
    return true;
}

bool check_single_item(const uint8_t *data, size_t len, Error *err) {
    size_t pos = 0;
    if (!skip_item(data, len, &pos, err)) return false;
    if (pos != len)
        return fail(err, pos, std::to_string(len - pos) + " trailing byte(s) after the data item");
    return true;
}

}  // namespace pyctx::core::cbor
