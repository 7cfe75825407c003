// core/cbor/reader (and the diagnostic printer built on it): every example
// of RFC 8949 Appendix A, every head kind, and every rejection the reader
// promises (truncation, reserved values, misplaced indefinite lengths and
// breaks, invalid UTF-8, the depth limit, trailing bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/cbor/diag.h"
#include "core/cbor/reader.h"
#include "hex.h"
#include "rfc8949_vectors.h"

namespace pyctx::unit {
namespace {

using core::Error;
using core::Status;
using core::cbor::Head;
using core::cbor::Type;
namespace cbor = core::cbor;

Head head_of(const std::vector<uint8_t> &b, size_t *pos_out = nullptr) {
    size_t pos = 0;
    Head h;
    Error err;
    EXPECT_TRUE(cbor::read_head(b.data(), b.size(), &pos, &h, &err)) << err.message;
    if (pos_out) *pos_out = pos;
    return h;
}

// The decode error of a whole buffer, which must be rejected.
Error rejection(const std::vector<uint8_t> &b) {
    Error err;
    EXPECT_FALSE(cbor::check_single_item(b.data(), b.size(), &err)) << to_hex(b);
    EXPECT_EQ(err.status, Status::decode) << to_hex(b);
    return err;
}

bool accepted(const std::vector<uint8_t> &b) {
    Error err;
    return cbor::check_single_item(b.data(), b.size(), &err);
}

std::string diag(const std::vector<uint8_t> &b) {
    std::string out;
    Error err;
    EXPECT_TRUE(cbor::diagnose(b.data(), b.size(), &out, &err)) << to_hex(b) << ": " << err.message;
    return out;
}

TEST(CborReader, Rfc8949AppendixAExamplesAreWellFormedAndPrintAsTheRfcShows) {
    for (const auto &v : kRfc8949Vectors) {
        const auto bytes = from_hex(v.hex);
        Error err;
        EXPECT_TRUE(cbor::check_single_item(bytes.data(), bytes.size(), &err))
            << v.hex << ": " << err.message;
        EXPECT_EQ(diag(bytes), v.diag) << v.hex;
    }
}

TEST(CborReader, EveryProperPrefixOfAnExampleIsRejectedAsTruncated) {
    // CBOR items are self-delimiting: no proper prefix of one is complete.
    for (const auto &v : kRfc8949Vectors) {
        const auto bytes = from_hex(v.hex);
        for (size_t n = 0; n < bytes.size(); ++n) {
            std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
            Error err = rejection(prefix);
            EXPECT_EQ(err.message.rfind("invalid CBOR at byte ", 0), 0u) << err.message;
            size_t pos = 0;
            EXPECT_FALSE(cbor::skip_item(prefix.data(), prefix.size(), &pos, &err));
            EXPECT_EQ(pos, 0u) << "a failed skip leaves the position alone";
        }
    }
}

TEST(CborReader, TrailingBytesAfterOneItemAreRejectedWithTheirCount) {
    for (const auto &v : kRfc8949Vectors) {
        auto bytes = from_hex(v.hex);
        const size_t len = bytes.size();
        bytes.push_back(0x00);
        bytes.push_back(0xf6);
        Error err = rejection(bytes);
        EXPECT_EQ(err.message, "invalid CBOR at byte " + std::to_string(len) +
                                   ": 2 trailing byte(s) after the data item");
        // skip_item consumes exactly the first item.
        size_t pos = 0;
        EXPECT_TRUE(cbor::skip_item(bytes.data(), bytes.size(), &pos, &err)) << err.message;
        EXPECT_EQ(pos, len);
    }
}

TEST(CborReader, IntegerHeadsOfEveryWidth) {
    struct Case {
        const char *hex;
        Type type;
        uint64_t arg;
        size_t size;
    };
    const Case cases[] = {
        {"00", Type::uint, 0, 1},
        {"17", Type::uint, 23, 1},
        {"1818", Type::uint, 24, 2},
        {"18ff", Type::uint, 255, 2},
        {"190100", Type::uint, 256, 3},
        {"19ffff", Type::uint, 65535, 3},
        {"1a00010000", Type::uint, 65536, 5},
        {"1affffffff", Type::uint, 0xffffffffu, 5},
        {"1b0000000100000000", Type::uint, 0x100000000u, 9},
        {"1bffffffffffffffff", Type::uint, UINT64_MAX, 9},
        {"20", Type::negint, 0, 1},
        {"37", Type::negint, 23, 1},
        {"3818", Type::negint, 24, 2},
        {"39ffff", Type::negint, 65535, 3},
        {"3affffffff", Type::negint, 0xffffffffu, 5},
        {"3bffffffffffffffff", Type::negint, UINT64_MAX, 9},
        {"c0", Type::tag, 0, 1},
        {"d818", Type::tag, 24, 2},
        {"dbffffffffffffffff", Type::tag, UINT64_MAX, 9},
    };
    for (const auto &c : cases) {
        size_t pos;
        Head h = head_of(from_hex(c.hex), &pos);
        EXPECT_EQ(h.type, c.type) << c.hex;
        EXPECT_EQ(h.arg, c.arg) << c.hex;
        EXPECT_FALSE(h.indefinite) << c.hex;
        EXPECT_EQ(pos, c.size) << c.hex;
    }
}

TEST(CborReader, StringHeadsPointAtTheirPayloadAndConsumeIt) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{23}, size_t{24}, size_t{255}, size_t{256},
                     size_t{65536}}) {
        for (uint8_t major : {uint8_t{2}, uint8_t{3}}) {
            std::vector<uint8_t> b;
            const uint8_t mt = static_cast<uint8_t>(major << 5);
            if (n < 24) {
                b.push_back(static_cast<uint8_t>(mt | n));
            } else if (n <= 0xff) {
                b = {static_cast<uint8_t>(mt | 24), static_cast<uint8_t>(n)};
            } else if (n <= 0xffff) {
                b = {static_cast<uint8_t>(mt | 25), static_cast<uint8_t>(n >> 8),
                     static_cast<uint8_t>(n)};
            } else {
                b = {static_cast<uint8_t>(mt | 26), 0, static_cast<uint8_t>(n >> 16),
                     static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
            }
            const size_t head_len = b.size();
            for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>('a' + i % 26));
            size_t pos;
            Head h = head_of(b, &pos);
            EXPECT_EQ(h.type, major == 2 ? Type::bytes : Type::text);
            EXPECT_EQ(h.arg, n);
            EXPECT_EQ(h.data, b.data() + head_len);
            EXPECT_EQ(pos, b.size());
            EXPECT_TRUE(accepted(b));
        }
    }
}

TEST(CborReader, ContainerAndSimpleHeads) {
    size_t pos;
    Head h = head_of(from_hex("9a00000002" "0102"), &pos);
    EXPECT_EQ(h.type, Type::array);
    EXPECT_EQ(h.arg, 2u);
    EXPECT_EQ(pos, 5u) << "an array head consumes only itself";
    h = head_of(from_hex("b90001" "0102"), &pos);
    EXPECT_EQ(h.type, Type::map);
    EXPECT_EQ(h.arg, 1u);
    EXPECT_EQ(pos, 3u);
    for (const char *hex : {"5f", "7f", "9f", "bf"}) {
        h = head_of(from_hex(hex), &pos);
        EXPECT_TRUE(h.indefinite) << hex;
        EXPECT_EQ(h.arg, 0u) << hex;
        EXPECT_EQ(pos, 1u) << hex;
    }
    EXPECT_EQ(head_of(from_hex("f4")).type, Type::false_);
    EXPECT_EQ(head_of(from_hex("f5")).type, Type::true_);
    EXPECT_EQ(head_of(from_hex("f6")).type, Type::null);
    EXPECT_EQ(head_of(from_hex("f7")).type, Type::undefined);
    EXPECT_EQ(head_of(from_hex("ff")).type, Type::break_);
    for (uint8_t v = 0; v < 20; ++v) {
        h = head_of({static_cast<uint8_t>(0xe0 | v)});
        EXPECT_EQ(h.type, Type::simple);
        EXPECT_EQ(h.arg, v);
    }
    for (unsigned v = 32; v < 256; ++v) {
        h = head_of({0xf8, static_cast<uint8_t>(v)}, &pos);
        EXPECT_EQ(h.type, Type::simple);
        EXPECT_EQ(h.arg, v);
        EXPECT_EQ(pos, 2u);
    }
}

TEST(CborReader, FloatsOfEveryWidthKeepSignsInfinitiesAndNanPayloads) {
    EXPECT_EQ(head_of(from_hex("f93c00")).float_value, 1.0);
    EXPECT_EQ(head_of(from_hex("fa47c35000")).float_value, 100000.0);
    EXPECT_EQ(head_of(from_hex("fb3ff199999999999a")).float_value, 1.1);
    EXPECT_EQ(head_of(from_hex("f90400")).float_value, 0.00006103515625);
    EXPECT_EQ(head_of(from_hex("f90001")).float_value, std::ldexp(1.0, -24));
    const double neg_zero = head_of(from_hex("f98000")).float_value;
    EXPECT_EQ(neg_zero, 0.0);
    EXPECT_TRUE(std::signbit(neg_zero));
    EXPECT_EQ(head_of(from_hex("f9fc00")).float_value, -INFINITY);
    // A half NaN's payload lands in the top of the double's mantissa.
    const double nan = head_of(from_hex("f97e01")).float_value;
    ASSERT_TRUE(std::isnan(nan));
    uint64_t bits;
    std::memcpy(&bits, &nan, sizeof bits);
    EXPECT_EQ(bits, 0x7ff8040000000000ull);
    // A double NaN keeps its payload bit for bit.
    const double nan64 = head_of(from_hex("fb7ff0000000000001")).float_value;
    std::memcpy(&bits, &nan64, sizeof bits);
    EXPECT_EQ(bits, 0x7ff0000000000001ull);
    for (uint32_t half = 0; half < 0x10000; ++half) {
        const double d = cbor::half_to_double(static_cast<uint16_t>(half));
        if (((half >> 10) & 0x1f) == 0x1f) {
            EXPECT_TRUE((half & 0x3ff) ? std::isnan(d) : std::isinf(d)) << half;
        } else {
            // Every finite half is exactly a float; compare against the
            // compiler's own conversion of it.
            const auto f = static_cast<float>(d);
            EXPECT_EQ(static_cast<double>(f), d) << half;
            EXPECT_EQ(std::signbit(d), (half & 0x8000) != 0) << half;
        }
    }
}

TEST(CborReader, NonShortestHeadsAreWellFormedAndReadAsTheirValue) {
    // RFC 8949 §4.2.1: preferred serialization is what the writer emits,
    // not a well-formedness rule; the reader accepts longer heads.
    for (const char *hex : {"1800", "190000", "1a00000000", "1b0000000000000000"})
        EXPECT_EQ(head_of(from_hex(hex)).arg, 0u) << hex;
    EXPECT_EQ(head_of(from_hex("3900ff")).arg, 255u);
    EXPECT_TRUE(accepted(from_hex("5800")));
    EXPECT_TRUE(accepted(from_hex("79000161")));
    EXPECT_TRUE(accepted(from_hex("9a0000000101")));
    EXPECT_TRUE(accepted(from_hex("b8010102")));
    EXPECT_TRUE(accepted(from_hex("d8000c")));
    EXPECT_EQ(diag(from_hex("fa3f800000")), "1.0") << "a float32 that fits a half";
}

TEST(CborReader, ReservedAdditionalInformationIsRejectedOnEveryMajorType) {
    for (uint8_t major = 0; major < 8; ++major) {
        for (uint8_t ai : {uint8_t{28}, uint8_t{29}, uint8_t{30}}) {
            const uint8_t initial = static_cast<uint8_t>(major << 5 | ai);
            char want[128];
            std::snprintf(want, sizeof want,
                          "invalid CBOR at byte 0: reserved additional information value %d "
                          "(initial byte 0x%02x)",
                          ai, initial);
            EXPECT_EQ(rejection({initial, 0, 0, 0, 0, 0, 0, 0, 0}).message, want);
        }
    }
}

TEST(CborReader, IndefiniteLengthIsRejectedForIntegersAndTags) {
    EXPECT_EQ(rejection(from_hex("1f")).message,
              "invalid CBOR at byte 0: indefinite length is not allowed for a unsigned integer "
              "(initial byte 0x1f)");
    EXPECT_NE(rejection(from_hex("3f")).message.find("negative integer"), std::string::npos);
    EXPECT_NE(rejection(from_hex("df00")).message.find("tag"), std::string::npos);
}

TEST(CborReader, MisplacedBreaksAndBadChunksAreRejected) {
    EXPECT_EQ(rejection(from_hex("ff")).message,
              "invalid CBOR at byte 0: unexpected break (0xff) outside an indefinite-length item");
    EXPECT_EQ(rejection(from_hex("8201ff")).message.rfind("invalid CBOR at byte 2: unexpected break", 0), 0u);
    EXPECT_EQ(rejection(from_hex("bf01ff")).message.rfind("invalid CBOR at byte 2: unexpected break", 0), 0u)
        << "a break between a key and its value";
    EXPECT_EQ(rejection(from_hex("9f01")).message,
              "invalid CBOR at byte 2: unterminated indefinite-length array (missing break)");
    EXPECT_EQ(rejection(from_hex("bf0102")).message,
              "invalid CBOR at byte 3: unterminated indefinite-length map (missing break)");
    EXPECT_EQ(rejection(from_hex("5f4100")).message,
              "invalid CBOR at byte 3: unterminated indefinite-length byte string (missing break)");
    EXPECT_EQ(rejection(from_hex("5f6161ff")).message,
              "invalid CBOR at byte 1: chunk of an indefinite-length byte string must be a "
              "definite-length byte string, not a text string");
    EXPECT_EQ(rejection(from_hex("7f7fffff")).message,
              "invalid CBOR at byte 1: chunk of an indefinite-length text string must be a "
              "definite-length text string, not an indefinite-length text string");
    EXPECT_TRUE(accepted(from_hex("5fff"))) << "an indefinite string may have no chunks";
    EXPECT_EQ(diag(from_hex("5fff")), "''_");
    EXPECT_EQ(diag(from_hex("7fff")), "\"\"_");
}

TEST(CborReader, TwoByteSimpleValuesBelow32AreRejected) {
    for (unsigned v = 0; v < 32; ++v) {
        EXPECT_EQ(rejection({0xf8, static_cast<uint8_t>(v)}).message,
                  "invalid CBOR at byte 0: simple value " + std::to_string(v) +
                      " must not use the two-byte form (not well-formed)");
    }
}

TEST(CborReader, CountsAndLengthsBeyondTheInputAreRejectedFromTheHead) {
    EXPECT_EQ(rejection(from_hex("9bffffffffffffffff")).message,
              "invalid CBOR at byte 0: truncated array (declares 18446744073709551615 items, "
              "only 0 bytes left)");
    EXPECT_EQ(rejection(from_hex("a30102030405")).message,
              "invalid CBOR at byte 0: truncated map (declares 3 pairs, only 5 bytes left)");
    EXPECT_EQ(rejection(from_hex("5bffffffffffffffff00")).message,
              "invalid CBOR at byte 0: truncated byte string (declares 18446744073709551615 "
              "bytes, 1 left)");
    EXPECT_EQ(rejection(from_hex("1a0001")).message,
              "invalid CBOR at byte 0: truncated item head (initial byte 0x1a needs 4 more bytes, "
              "2 left)");
    EXPECT_EQ(rejection({}).message,
              "invalid CBOR at byte 0: unexpected end of input (truncated item)");
}

TEST(CborReader, InvalidUtf8IsRejectedAtItsByteUnlessNotChecked) {
    struct Case {
        const char *hex;
        size_t bad;  // offset of the first bad byte in the buffer
    };
    const Case cases[] = {
        {"61ff", 1},          // never valid
        {"6180", 1},          // lone continuation byte
        {"62c080", 1},        // overlong NUL
        {"63e08080", 1},      // overlong three-byte form
        {"63eda080", 1},      // UTF-16 surrogate U+D800
        {"64f4908080", 1},    // above U+10FFFF
        {"6261c3", 2},        // truncated sequence at the end
        {"7f6161626180ff", 5},  // in the second chunk of an indefinite string
    };
    for (const auto &c : cases) {
        const auto b = from_hex(c.hex);
        Error err;
        EXPECT_FALSE(cbor::check_single_item(b.data(), b.size(), &err)) << c.hex;
        EXPECT_NE(err.message.find("text string is not valid UTF-8 (bad byte at " +
                                   std::to_string(c.bad) + ")"),
                  std::string::npos)
            << c.hex << ": " << err.message;
        size_t pos = 0;
        EXPECT_TRUE(cbor::skip_item(b.data(), b.size(), &pos, &err, /*check_utf8=*/false))
            << c.hex << ": " << err.message;
        EXPECT_EQ(pos, b.size());
    }
    size_t bad = 99;
    const uint8_t text[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0xc3, 0x28};
    EXPECT_FALSE(cbor::utf8_valid(text, sizeof text, &bad));
    EXPECT_EQ(bad, 9u) << "past the eight-byte ASCII fast path";
    const uint8_t ok[] = {0xf0, 0x90, 0x85, 0x91, 'x', 0xef, 0xbf, 0xbf, 0xc2, 0x80};
    EXPECT_TRUE(cbor::utf8_valid(ok, sizeof ok));
}

std::vector<uint8_t> nested(int depth, uint8_t open, const std::vector<uint8_t> &inner,
                            const std::vector<uint8_t> &close = {}) {
    std::vector<uint8_t> b(static_cast<size_t>(depth), open);
    b.insert(b.end(), inner.begin(), inner.end());
    for (int i = 0; i < depth; ++i) b.insert(b.end(), close.begin(), close.end());
    return b;
}

TEST(CborReader, NestingIsLimitedTo256ArraysOrMaps) {
    ASSERT_EQ(cbor::kMaxDepth, 256);
    EXPECT_TRUE(accepted(nested(256, 0x81, {0x00})));
    EXPECT_EQ(rejection(nested(257, 0x81, {0x00})).message,
              "invalid CBOR at byte 256: nesting deeper than 256 levels");
    EXPECT_TRUE(accepted(nested(256, 0x9f, {}, {0xff})));
    EXPECT_EQ(rejection(nested(257, 0x9f, {}, {0xff})).message,
              "invalid CBOR at byte 256: nesting deeper than 256 levels");
    // Maps nest through their values: a1 00 a1 00 ... 00.
    std::vector<uint8_t> maps;
    for (int i = 0; i < 257; ++i) maps.insert(maps.end(), {0xa1, 0x00});
    maps.push_back(0x00);
    EXPECT_EQ(rejection(maps).message, "invalid CBOR at byte 512: nesting deeper than 256 levels");
    maps.erase(maps.begin(), maps.begin() + 2);
    EXPECT_TRUE(accepted(maps));
    // The printer has the same limit.
    std::string out;
    Error err;
    const auto deep = nested(257, 0x81, {0x00});
    EXPECT_FALSE(cbor::diagnose(deep.data(), deep.size(), &out, &err));
    EXPECT_EQ(err.message, "invalid CBOR at byte 256: nesting deeper than 256 levels");
}

TEST(CborReader, TagsDoNotCountTowardsTheDepth) {
    // A long chain of tags is read in a loop, not recursively.
    const auto chain = nested(100000, 0xc1, {0x00});
    EXPECT_TRUE(accepted(chain));
    EXPECT_TRUE(accepted(nested(256, 0x81, nested(1000, 0xc1, {0x00}))));
}

TEST(CborReader, ChunksOfAnIndefiniteStringAreCopiedInOrder) {
    const auto b = from_hex("7f657374726561646d696e67ff" "00");
    size_t pos = 1, total = 0;
    Error err;
    ASSERT_TRUE(cbor::scan_chunks(b.data(), b.size(), &pos, Type::text, true, &total, &err))
        << err.message;
    EXPECT_EQ(pos, b.size() - 1);
    ASSERT_EQ(total, 9u);
    std::string out(total, '\0');
    cbor::copy_chunks(b.data(), b.size(), 1, reinterpret_cast<uint8_t *>(out.data()));
    EXPECT_EQ(out, "streaming");
}

TEST(CborReader, TypeNamesAndDescriptions) {
    EXPECT_EQ(cbor::describe(Type::array, false), "an array");
    EXPECT_EQ(cbor::describe(Type::text, false), "a text string");
    EXPECT_EQ(cbor::describe(Type::map, true), "an indefinite-length map");
    EXPECT_EQ(cbor::describe(Type::uint, false), "an unsigned integer");
}

// The checker skips integers, simple values and floats, and short definite
// arrays and maps of them, on a fast path: it must accept and reject
// exactly what the full path does, with the same message at the same byte.
TEST(CborReader, ScalarsInShortArraysAndMapsAreCheckedLikeAnyOther) {
    // Every scalar form, well-formed, in one array and as map values.
    const std::vector<uint8_t> scalars = from_hex(
        "00" "17" "18ff" "19ffff" "1affffffff" "1bffffffffffffffff" "20" "3bffffffffffffffff"
        "f4" "f5" "f6" "f7" "f0" "f820" "f93c00" "fa3fc00000" "fb3ff8000000000000");
    size_t count = 0;
    for (size_t pos = 0; pos < scalars.size(); ++count) {
        Error err;
        ASSERT_TRUE(cbor::skip_item(scalars.data(), scalars.size(), &pos, &err)) << err.message;
    }
    ASSERT_LT(count, 24u);
    std::vector<uint8_t> array{static_cast<uint8_t>(0x80 | count)};
    array.insert(array.end(), scalars.begin(), scalars.end());
    EXPECT_TRUE(accepted(array)) << to_hex(array);
    std::vector<uint8_t> map{0xa1, 0x00, 0x81};
    map.insert(map.end(), scalars.begin(), scalars.begin() + 1);
    EXPECT_TRUE(accepted(map));
    // Each malformed scalar: rejected inside [1, x] and {1: x} as on its
    // own, two bytes further on.
    for (const char *bad : {"f810", "f81f", "1c", "3d", "fc", "ff", "1f", "3f", "19ff", "fb0000",
                            "1b00000000000000"}) {
        const std::vector<uint8_t> alone = from_hex(bad);
        std::string expected = rejection(alone).message;
        const std::string at0 = "at byte 0:";
        ASSERT_NE(expected.find(at0), std::string::npos) << expected;
        expected.replace(expected.find(at0), at0.size(), "at byte 2:");
        for (uint8_t container : {uint8_t{0x82}, uint8_t{0xa1}}) {
            std::vector<uint8_t> in{container, 0x01};
            in.insert(in.end(), alone.begin(), alone.end());
            EXPECT_EQ(rejection(in).message, expected) << to_hex(in);
        }
    }
    // A count beyond the bytes left is still refused from the head.
    EXPECT_EQ(rejection(from_hex("830102")).message,
              "invalid CBOR at byte 0: truncated array (declares 3 items, only 2 bytes left)");
}

}  // namespace
}  // namespace pyctx::unit
