// core/cbor/writer: its output equals the encodings of RFC 8949 Appendix A
// (the examples it can produce: it writes definite lengths only, and floats
// always as float64), heads are always in the shortest form, and whatever it
// writes reads back through core/cbor/reader as the same value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include "core/cbor/reader.h"
#include "core/cbor/writer.h"
#include "hex.h"

namespace pyctx::unit {
namespace {

using core::ByteBuffer;
using core::Error;
using core::cbor::Head;
using core::cbor::Major;
using core::cbor::Type;
namespace cbor = core::cbor;

std::string written(const std::function<bool(ByteBuffer &)> &write) {
    ByteBuffer b;
    EXPECT_TRUE(write(b));
    return to_hex(b);
}

bool text(ByteBuffer &b, const char *s) { return cbor::write_text(b, s, std::strlen(s)); }

TEST(CborWriter, IntegersEncodeAsInRfc8949AppendixA) {
    const std::pair<int64_t, const char *> ints[] = {
        {0, "00"},          {1, "01"},         {10, "0a"},
        {23, "17"},         {24, "1818"},      {25, "1819"},
        {100, "1864"},      {1000, "1903e8"},  {1000000, "1a000f4240"},
        {1000000000000, "1b000000e8d4a51000"}, {-1, "20"},
        {-10, "29"},        {-100, "3863"},    {-1000, "3903e7"},
    };
    for (auto [v, hex] : ints) EXPECT_EQ(written([v](auto &b) { return cbor::write_int(b, v); }), hex) << v;
    EXPECT_EQ(written([](auto &b) { return cbor::write_uint(b, UINT64_MAX); }), "1bffffffffffffffff");
    // -18446744073709551616 = -1 - (2^64 - 1): beyond int64, written as a head.
    EXPECT_EQ(written([](auto &b) { return cbor::write_head(b, Major::negint, UINT64_MAX); }),
              "3bffffffffffffffff");
    // 18446744073709551616 as a bignum: tag 2 over its bytes.
    EXPECT_EQ(written([](auto &b) {
                  const uint8_t mag[] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
                  return cbor::write_head(b, Major::tag, 2) && cbor::write_bytes(b, mag, sizeof mag);
              }),
              "c249010000000000000000");
    EXPECT_EQ(written([](auto &b) { return cbor::write_int(b, INT64_MIN); }), "3b7fffffffffffffff");
    EXPECT_EQ(written([](auto &b) { return cbor::write_int(b, INT64_MAX); }), "1b7fffffffffffffff");
}

TEST(CborWriter, Float64EncodingsOfAppendixA) {
    const std::pair<double, const char *> floats[] = {
        {1.1, "fb3ff199999999999a"},
        {1.0e+300, "fb7e37e43c8800759c"},
        {-4.1, "fbc010666666666666"},
        {INFINITY, "fb7ff0000000000000"},
        {-INFINITY, "fbfff0000000000000"},
        {std::numeric_limits<double>::quiet_NaN(), "fb7ff8000000000000"},
    };
    for (auto [v, hex] : floats)
        EXPECT_EQ(written([v](auto &b) { return cbor::write_double(b, v); }), hex) << v;
    // Always float64, even where a half would do (project-wide choice), and
    // -0.0 keeps its sign.
    EXPECT_EQ(written([](auto &b) { return cbor::write_double(b, 1.0); }), "fb3ff0000000000000");
    EXPECT_EQ(written([](auto &b) { return cbor::write_double(b, -0.0); }), "fb8000000000000000");
    // 1(1363896240.5)
    EXPECT_EQ(written([](auto &b) {
                  return cbor::write_head(b, Major::tag, 1) && cbor::write_double(b, 1363896240.5);
              }),
              "c1fb41d452d9ec200000");
}

TEST(CborWriter, SimpleValuesOfAppendixA) {
    EXPECT_EQ(written([](auto &b) { return cbor::write_bool(b, false); }), "f4");
    EXPECT_EQ(written([](auto &b) { return cbor::write_bool(b, true); }), "f5");
    EXPECT_EQ(written([](auto &b) { return cbor::write_null(b); }), "f6");
    EXPECT_EQ(written([](auto &b) { return b.push(cbor::kUndefined); }), "f7");
    EXPECT_EQ(written([](auto &b) { return cbor::write_head(b, Major::simple, 16); }), "f0");
    EXPECT_EQ(written([](auto &b) { return cbor::write_head(b, Major::simple, 255); }), "f8ff");
}

TEST(CborWriter, TagsOfAppendixA) {
    EXPECT_EQ(written([](auto &b) {
                  return cbor::write_head(b, Major::tag, 0) && text(b, "2013-03-21T20:04:00Z");
              }),
              "c074323031332d30332d32315432303a30343a30305a");
    EXPECT_EQ(written([](auto &b) {
                  return cbor::write_head(b, Major::tag, 1) && cbor::write_int(b, 1363896240);
              }),
              "c11a514b67b0");
    EXPECT_EQ(written([](auto &b) {
                  const uint8_t d[] = {1, 2, 3, 4};
                  return cbor::write_head(b, Major::tag, 23) && cbor::write_bytes(b, d, 4);
              }),
              "d74401020304");
    EXPECT_EQ(written([](auto &b) {
                  return cbor::write_head(b, Major::tag, 24) && cbor::write_bytes(b, "dIETF", 5);
              }),
              "d818456449455446");
    EXPECT_EQ(written([](auto &b) {
                  return cbor::write_head(b, Major::tag, 32) && text(b, "http://www.example.com");
              }),
              "d82076687474703a2f2f7777772e6578616d706c652e636f6d");
}

TEST(CborWriter, StringsOfAppendixA) {
    EXPECT_EQ(written([](auto &b) { return cbor::write_bytes(b, nullptr, 0); }), "40");
    EXPECT_EQ(written([](auto &b) { return cbor::write_bytes(b, "\x01\x02\x03\x04", 4); }),
              "4401020304");
    EXPECT_EQ(written([](auto &b) { return text(b, ""); }), "60");
    EXPECT_EQ(written([](auto &b) { return text(b, "a"); }), "6161");
    EXPECT_EQ(written([](auto &b) { return text(b, "IETF"); }), "6449455446");
    EXPECT_EQ(written([](auto &b) { return text(b, "\"\\"); }), "62225c");
    EXPECT_EQ(written([](auto &b) { return text(b, "\u00fc"); }), "62c3bc");
    EXPECT_EQ(written([](auto &b) { return text(b, "\u6c34"); }), "63e6b0b4");
    EXPECT_EQ(written([](auto &b) { return text(b, "\U00010151"); }), "64f0908591");
}

TEST(CborWriter, ArraysAndMapsOfAppendixA) {
    auto arr = [](ByteBuffer &b, uint64_t n) { return cbor::write_head(b, Major::array, n); };
    auto map = [](ByteBuffer &b, uint64_t n) { return cbor::write_head(b, Major::map, n); };
    auto i = [](ByteBuffer &b, int64_t v) { return cbor::write_int(b, v); };
    EXPECT_EQ(written([&](auto &b) { return arr(b, 0); }), "80");
    EXPECT_EQ(written([&](auto &b) { return arr(b, 3) && i(b, 1) && i(b, 2) && i(b, 3); }),
              "83010203");
    EXPECT_EQ(written([&](auto &b) {
                  return arr(b, 3) && i(b, 1) && arr(b, 2) && i(b, 2) && i(b, 3) && arr(b, 2) &&
                         i(b, 4) && i(b, 5);
              }),
              "8301820203820405");
    EXPECT_EQ(written([&](auto &b) {
                  bool ok = arr(b, 25);
                  for (int v = 1; v <= 25; ++v) ok = ok && i(b, v);
                  return ok;
              }),
              "98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    EXPECT_EQ(written([&](auto &b) { return map(b, 0); }), "a0");
    EXPECT_EQ(written([&](auto &b) { return map(b, 2) && i(b, 1) && i(b, 2) && i(b, 3) && i(b, 4); }),
              "a201020304");
    EXPECT_EQ(written([&](auto &b) {
                  return map(b, 2) && text(b, "a") && i(b, 1) && text(b, "b") && arr(b, 2) &&
                         i(b, 2) && i(b, 3);
              }),
              "a26161016162820203");
    EXPECT_EQ(written([&](auto &b) {
                  return arr(b, 2) && text(b, "a") && map(b, 1) && text(b, "b") && text(b, "c");
              }),
              "826161a161626163");
    EXPECT_EQ(written([&](auto &b) {
                  bool ok = map(b, 5);
                  for (const char *kv : {"aA", "bB", "cC", "dD", "eE"})
                      ok = ok && cbor::write_text(b, kv, 1) && cbor::write_text(b, kv + 1, 1);
                  return ok;
              }),
              "a56161614161626142616361436164614461656145");
}

TEST(CborWriter, HeadsAreShortestAndReadBackForEveryMajorAndWidth) {
    const uint64_t args[] = {0,          1,           23,          24,
                             255,        256,         65535,       65536,
                             0xffffffff, 0x100000000, UINT64_MAX - 1, UINT64_MAX};
    auto shortest = [](uint64_t v) -> size_t {
        return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
    };
    for (Major major : {Major::uint, Major::negint, Major::array, Major::map, Major::tag}) {
        for (uint64_t arg : args) {
            uint8_t buf[cbor::kMaxHeadSize];
            const size_t n = cbor::encode_head(buf, major, arg);
            EXPECT_EQ(n, shortest(arg)) << arg;
            EXPECT_EQ(buf[0] >> 5, static_cast<int>(major));
            // Read the head alone (containers: the reader would refuse a
            // count larger than the input, so give it room for small ones).
            std::string bytes(reinterpret_cast<char *>(buf), n);
            if ((major == Major::array || major == Major::map) && arg > 64) continue;
            if (major == Major::array || major == Major::map)
                bytes.append(static_cast<size_t>(major == Major::map ? 2 * arg : arg), '\0');
            size_t pos = 0;
            Head h;
            Error err;
            ASSERT_TRUE(cbor::read_head(reinterpret_cast<const uint8_t *>(bytes.data()),
                                        bytes.size(), &pos, &h, &err))
                << err.message;
            EXPECT_EQ(h.arg, arg);
            EXPECT_EQ(pos, n);
            EXPECT_FALSE(h.indefinite);
        }
    }
}

TEST(CborWriter, IntegersRoundTripThroughTheReader) {
    const int64_t values[] = {0, 1, 23, 24, -24, -25, 255, -256, -257, 65535, -65536, -65537,
                              INT32_MAX, INT32_MIN, int64_t{1} << 32, -(int64_t{1} << 32) - 1,
                              INT64_MAX, INT64_MIN};
    for (int64_t v : values) {
        ByteBuffer b;
        ASSERT_TRUE(cbor::write_int(b, v));
        size_t pos = 0;
        Head h;
        Error err;
        ASSERT_TRUE(cbor::read_head(b.data(), b.size(), &pos, &h, &err)) << err.message;
        EXPECT_EQ(pos, b.size());
        if (v >= 0) {
            EXPECT_EQ(h.type, Type::uint);
            EXPECT_EQ(h.arg, static_cast<uint64_t>(v));
        } else {
            EXPECT_EQ(h.type, Type::negint);
            EXPECT_EQ(-1 - static_cast<int64_t>(h.arg), v);
        }
    }
}

TEST(CborWriter, DoublesRoundTripBitForBit) {
    const uint64_t patterns[] = {0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
                                 0x7fefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000,
                                 0x7ff8000000000000, 0x7ff0000000000001, 0xfff8dead0000beef,
                                 0x3ff199999999999a};
    for (uint64_t bits : patterns) {
        double v;
        std::memcpy(&v, &bits, sizeof v);
        ByteBuffer b;
        ASSERT_TRUE(cbor::write_double(b, v));
        ASSERT_EQ(b.size(), 9u);
        size_t pos = 0;
        Head h;
        Error err;
        ASSERT_TRUE(cbor::read_head(b.data(), b.size(), &pos, &h, &err)) << err.message;
        EXPECT_EQ(h.type, Type::float_);
        uint64_t back;
        std::memcpy(&back, &h.float_value, sizeof back);
        EXPECT_EQ(back, bits) << std::hex << bits;
    }
}

TEST(CborWriter, StringsRoundTripAcrossHeadWidths) {
    for (size_t n : {size_t{0}, size_t{23}, size_t{24}, size_t{255}, size_t{256}, size_t{65535},
                     size_t{65536}, size_t{100000}}) {
        std::string s(n, 'x');
        for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>('a' + k % 26);
        for (bool as_text : {true, false}) {
            ByteBuffer b;
            ASSERT_TRUE(as_text ? cbor::write_text(b, s.data(), n) : cbor::write_bytes(b, s.data(), n));
            Error err;
            ASSERT_TRUE(cbor::check_single_item(b.data(), b.size(), &err)) << err.message;
            size_t pos = 0;
            Head h;
            ASSERT_TRUE(cbor::read_head(b.data(), b.size(), &pos, &h, &err));
            EXPECT_EQ(h.type, as_text ? Type::text : Type::bytes);
            ASSERT_EQ(h.arg, n);
            EXPECT_EQ(std::string(reinterpret_cast<const char *>(h.data), n), s);
        }
    }
}

}  // namespace
}  // namespace pyctx::unit
