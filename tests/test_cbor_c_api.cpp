// The public CBOR tools (writer, pull reader, skip, diagnostic notation)
// through include/pyctx.h only. No Python runtime is needed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "pyctx.h"

namespace {

using Bytes = std::vector<uint8_t>;

// Hex digits to bytes; spaces are ignored so examples can be grouped.
Bytes hex(const std::string &text) {
    std::string s;
    for (char c : text)
        if (c != ' ') s.push_back(c);
    Bytes out;
    for (size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return out;
}

std::string to_hex(const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s.push_back(digits[p[i] >> 4]);
        s.push_back(digits[p[i] & 15]);
    }
    return s;
}

// Owns a writer for one test.
struct Writer {
    pyctx_cbor_writer_t *w = pyctx_cbor_writer_new();
    ~Writer() { pyctx_cbor_writer_free(w); }
    std::string hex() const {
        size_t n = 0;
        const uint8_t *p = pyctx_cbor_writer_data(w, &n);
        return to_hex(p, n);
    }
    Bytes bytes() const {
        size_t n = 0;
        const uint8_t *p = pyctx_cbor_writer_data(w, &n);
        return Bytes(p, p + n);
    }
};

// Status + message of an error, freeing it. {PYCTX_OK, ""} for NULL.
struct Outcome {
    pyctx_status status;
    std::string message;
};
Outcome take(pyctx_error_t *e) {
    Outcome o{e ? pyctx_error_status(e) : PYCTX_OK, e ? pyctx_error_message(e) : ""};
    pyctx_error_free(e);
    return o;
}

// Diagnostic notation of a complete item; "<error: ...>" when it fails.
std::string diag(const Bytes &b) {
    pyctx_bytes_t out{nullptr, 0};
    pyctx_error_t *e = pyctx_cbor_diagnose(b.data(), b.size(), &out);
    if (e) return "<error: " + take(e).message + ">";
    std::string s(reinterpret_cast<const char *>(out.data), out.len);
    EXPECT_EQ(out.data[out.len], 0) << "diagnose output must be NUL-terminated";
    pyctx_bytes_free(&out);
    return s;
}
std::string diag_hex(const std::string &h) { return diag(hex(h)); }

Outcome diagnose_error(const Bytes &b) {
    pyctx_bytes_t out{nullptr, 0};
    Outcome o = take(pyctx_cbor_diagnose(b.data(), b.size(), &out));
    pyctx_bytes_free(&out);
    return o;
}

// Reads one item from the start of `b`, expecting success.
pyctx_cbor_item_t read_one(const Bytes &b, size_t *pos_after = nullptr) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    pyctx_cbor_item_t item;
    std::memset(&item, 0xAB, sizeof item);
    Outcome o = take(pyctx_cbor_read(&r, &item));
    EXPECT_EQ(o.status, PYCTX_OK) << o.message;
    if (pos_after) *pos_after = r.pos;
    return item;
}

// Expects read (at offset `at`) to fail with a decode error mentioning
// `what` and "byte <byte>", leaving the reader where it was.
void expect_read_error(const Bytes &b, size_t at, const std::string &what, size_t byte) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    r.pos = at;
    pyctx_cbor_item_t item;
    item.type = PYCTX_CBOR_NULL;
    Outcome o = take(pyctx_cbor_read(&r, &item));
    EXPECT_EQ(o.status, PYCTX_ERR_DECODE) << to_hex(b.data(), b.size());
    EXPECT_NE(o.message.find(what), std::string::npos) << o.message;
    EXPECT_NE(o.message.find("invalid CBOR at byte " + std::to_string(byte) + ":"),
              std::string::npos)
        << o.message;
    EXPECT_EQ(r.pos, at) << "reader moved on error";
    EXPECT_EQ(item.type, PYCTX_CBOR_NULL) << "out_item written on error";
}

// Expects skip from offset 0 to fail like expect_read_error.
void expect_skip_error(const Bytes &b, const std::string &what, size_t byte) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    Outcome o = take(pyctx_cbor_skip(&r));
    EXPECT_EQ(o.status, PYCTX_ERR_DECODE) << to_hex(b.data(), b.size());
    EXPECT_NE(o.message.find(what), std::string::npos) << o.message;
    EXPECT_NE(o.message.find("invalid CBOR at byte " + std::to_string(byte) + ":"),
              std::string::npos)
        << o.message;
    EXPECT_EQ(r.pos, 0u) << "reader moved on error";
}

Bytes nested_arrays(int depth) {
    Bytes b(static_cast<size_t>(depth - 1), 0x81);
    b.push_back(0x80);
    return b;
}

/* ======================================================================== */
/* Errors and statuses                                                      */
/* ======================================================================== */

TEST(CborErrors, StatusNames) {
    EXPECT_STREQ(pyctx_status_name(PYCTX_OK), "ok");
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_TIMEOUT), "timeout");
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_DECODE), "decode");
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_ENCODE), "encode");
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_NO_MEMORY), "no_memory");
    EXPECT_STREQ(pyctx_status_name(PYCTX_ERR_INTERNAL), "internal");
    EXPECT_STREQ(pyctx_status_name(static_cast<pyctx_status>(999)), "unknown");
}

TEST(CborErrors, NullErrorAccessors) {
    pyctx_error_free(nullptr);
    EXPECT_EQ(pyctx_error_status(nullptr), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(pyctx_error_message(nullptr), "");
    EXPECT_STREQ(pyctx_error_python_type(nullptr), "");
    EXPECT_STREQ(pyctx_error_traceback(nullptr), "");
    pyctx_bytes_free(nullptr);
    pyctx_bytes_t empty{nullptr, 0};
    pyctx_bytes_free(&empty);
}

TEST(CborErrors, DecodeErrorHasNoPythonFields) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, nullptr, 0);
    pyctx_cbor_item_t item;
    pyctx_error_t *e = pyctx_cbor_read(&r, &item);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_DECODE);
    EXPECT_STREQ(pyctx_error_python_type(e), "");
    EXPECT_STREQ(pyctx_error_traceback(e), "");
    pyctx_error_free(e);
}

TEST(CborErrors, BytesFreeZeroes) {
    pyctx_bytes_t out{nullptr, 0};
    Bytes one = {0x01};
    ASSERT_EQ(pyctx_cbor_diagnose(one.data(), one.size(), &out), nullptr);
    ASSERT_NE(out.data, nullptr);
    EXPECT_EQ(out.len, 1u);
    pyctx_bytes_free(&out);
    EXPECT_EQ(out.data, nullptr);
    EXPECT_EQ(out.len, 0u);
}

/* ======================================================================== */
/* Writer                                                                   */
/* ======================================================================== */

TEST(CborWriter, IntegersMatchRfc8949AppendixA) {
    struct Case {
        int64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},        {1, "01"},          {10, "0a"},         {23, "17"},
        {24, "1818"},     {25, "1819"},       {100, "1864"},      {1000, "1903e8"},
        {1000000, "1a000f4240"},              {1000000000000, "1b000000e8d4a51000"},
        {-1, "20"},       {-10, "29"},        {-100, "3863"},     {-1000, "3903e7"},
        {255, "18ff"},    {256, "190100"},    {65535, "19ffff"},  {65536, "1a00010000"},
        {-24, "37"},      {-25, "3818"},
        {std::numeric_limits<int64_t>::max(), "1b7fffffffffffffff"},
        {std::numeric_limits<int64_t>::min(), "3b7fffffffffffffff"},
    };
    for (const auto &c : cases) {
        Writer w;
        ASSERT_EQ(pyctx_cbor_write_int(w.w, c.v), 0);
        EXPECT_EQ(w.hex(), c.hex) << c.v;
    }
    Writer w;
    ASSERT_EQ(pyctx_cbor_write_uint(w.w, 18446744073709551615ull), 0);
    EXPECT_EQ(w.hex(), "1bffffffffffffffff");
}

TEST(CborWriter, FloatsAreAlwaysFloat64) {
    struct Case {
        double v;
        const char *hex;
    } cases[] = {
        {1.1, "fb3ff199999999999a"},  // RFC 8949 Appendix A
        {1.0e+300, "fb7e37e43c8800759c"},
        {-4.1, "fbc010666666666666"},
        {1.5, "fb3ff8000000000000"},
        {0.0, "fb0000000000000000"},
        {-0.0, "fb8000000000000000"},
        {std::numeric_limits<double>::infinity(), "fb7ff0000000000000"},
        {-std::numeric_limits<double>::infinity(), "fbfff0000000000000"},
    };
    for (const auto &c : cases) {
        Writer w;
        ASSERT_EQ(pyctx_cbor_write_float(w.w, c.v), 0);
        EXPECT_EQ(w.hex(), c.hex) << c.v;
    }
    Writer w;
    ASSERT_EQ(pyctx_cbor_write_float(w.w, std::nan("")), 0);
    Bytes b = w.bytes();
    ASSERT_EQ(b.size(), 9u);
    EXPECT_EQ(b[0], 0xfb);
    EXPECT_TRUE(std::isnan(read_one(b).float_value));
}

TEST(CborWriter, SimpleValues) {
    Writer w;
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 0), 0);
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 1), 0);
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 42), 0);  // any non-zero is true
    ASSERT_EQ(pyctx_cbor_write_null(w.w), 0);
    EXPECT_EQ(w.hex(), "f4f5f5f6");
}

TEST(CborWriter, StringsMatchRfc8949AppendixA) {
    struct Case {
        std::string text;
        const char *hex;
    } cases[] = {
        {"", "60"},
        {"a", "6161"},
        {"IETF", "6449455446"},
        {"\"\\", "62225c"},
        {"\xc3\xbc", "62c3bc"},
        {"\xe6\xb0\xb4", "63e6b0b4"},
        {"\xf0\x90\x85\x91", "64f0908591"},
    };
    for (const auto &c : cases) {
        Writer w;
        ASSERT_EQ(pyctx_cbor_write_text(w.w, c.text.data(), c.text.size()), 0);
        EXPECT_EQ(w.hex(), c.hex);
        Writer w2;
        ASSERT_EQ(pyctx_cbor_write_cstr(w2.w, c.text.c_str()), 0);
        EXPECT_EQ(w2.hex(), c.hex);
    }
    Writer w;
    const uint8_t four[] = {1, 2, 3, 4};
    ASSERT_EQ(pyctx_cbor_write_bytes(w.w, nullptr, 0), 0);
    ASSERT_EQ(pyctx_cbor_write_bytes(w.w, four, 4), 0);
    EXPECT_EQ(w.hex(), "404401020304");

    // Long strings use longer length heads.
    Writer w3;
    std::string s(300, 'x');
    ASSERT_EQ(pyctx_cbor_write_text(w3.w, s.data(), s.size()), 0);
    Bytes b = w3.bytes();
    ASSERT_EQ(b.size(), 303u);
    EXPECT_EQ(to_hex(b.data(), 3), "79012c");
}

TEST(CborWriter, ContainersMatchRfc8949AppendixA) {
    {
        Writer w;  // [1, [2, 3], [4, 5]]
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 3), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 1), 0);
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 3), 0);
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 4), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 5), 0);
        EXPECT_EQ(w.hex(), "8301820203820405");
    }
    {
        Writer w;  // {"a": 1, "b": [2, 3]}
        ASSERT_EQ(pyctx_cbor_write_map(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "a"), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 1), 0);
        ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "b"), 0);
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 2), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 3), 0);
        EXPECT_EQ(w.hex(), "a26161016162820203");
    }
    {
        Writer w;  // 25 items: the count needs a one-byte argument
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 25), 0);
        for (int i = 1; i <= 25; ++i) ASSERT_EQ(pyctx_cbor_write_int(w.w, i), 0);
        EXPECT_EQ(w.hex(), "98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    }
    {
        Writer w;  // 1(1363896240), 258([]), 28793([]), 28794(h'')
        ASSERT_EQ(pyctx_cbor_write_tag(w.w, 1), 0);
        ASSERT_EQ(pyctx_cbor_write_int(w.w, 1363896240), 0);
        ASSERT_EQ(pyctx_cbor_write_tag(w.w, PYCTX_CBOR_TAG_SET), 0);
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 0), 0);
        ASSERT_EQ(pyctx_cbor_write_tag(w.w, PYCTX_CBOR_TAG_TUPLE), 0);
        ASSERT_EQ(pyctx_cbor_write_array(w.w, 0), 0);
        ASSERT_EQ(pyctx_cbor_write_tag(w.w, PYCTX_CBOR_TAG_HOST_TERM), 0);
        ASSERT_EQ(pyctx_cbor_write_bytes(w.w, nullptr, 0), 0);
        EXPECT_EQ(w.hex(), "c11a514b67b0d9010280d9707980d9707a40");
    }
}

TEST(CborWriter, RawResetAndData) {
    Writer w;
    size_t n = 99;
    const uint8_t *p = pyctx_cbor_writer_data(w.w, &n);
    EXPECT_NE(p, nullptr);
    EXPECT_EQ(n, 0u);

    const uint8_t raw[] = {0x82, 0x01, 0x02};
    ASSERT_EQ(pyctx_cbor_write_raw(w.w, raw, sizeof raw), 0);
    ASSERT_EQ(pyctx_cbor_write_raw(w.w, nullptr, 0), 0);
    EXPECT_EQ(w.hex(), "820102");

    pyctx_cbor_writer_reset(w.w);
    pyctx_cbor_writer_data(w.w, &n);
    EXPECT_EQ(n, 0u);
    ASSERT_EQ(pyctx_cbor_write_int(w.w, 7), 0);
    EXPECT_EQ(w.hex(), "07");
}

TEST(CborWriter, NullArguments) {
    EXPECT_EQ(pyctx_cbor_write_null(nullptr), -1);
    EXPECT_EQ(pyctx_cbor_write_bool(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_int(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_uint(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_float(nullptr, 1.0), -1);
    EXPECT_EQ(pyctx_cbor_write_text(nullptr, "a", 1), -1);
    EXPECT_EQ(pyctx_cbor_write_cstr(nullptr, "a"), -1);
    EXPECT_EQ(pyctx_cbor_write_bytes(nullptr, nullptr, 0), -1);
    EXPECT_EQ(pyctx_cbor_write_array(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_map(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_tag(nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_raw(nullptr, nullptr, 0), -1);
    size_t n = 5;
    EXPECT_EQ(pyctx_cbor_writer_data(nullptr, &n), nullptr);
    EXPECT_EQ(n, 0u);
    pyctx_cbor_writer_reset(nullptr);
    pyctx_cbor_writer_free(nullptr);

    Writer w;
    EXPECT_EQ(pyctx_cbor_write_text(w.w, nullptr, 1), -1);
    EXPECT_EQ(pyctx_cbor_write_cstr(w.w, nullptr), -1);
    EXPECT_EQ(pyctx_cbor_write_bytes(w.w, nullptr, 3), -1);
    EXPECT_EQ(pyctx_cbor_write_raw(w.w, nullptr, 3), -1);
    EXPECT_EQ(w.hex(), "") << "failed writes must not write";
    EXPECT_EQ(pyctx_cbor_write_text(w.w, nullptr, 0), 0);
    EXPECT_EQ(w.hex(), "60");
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

TEST(CborReader, Integers) {
    auto u = read_one(hex("1bffffffffffffffff"));
    EXPECT_EQ(u.type, PYCTX_CBOR_UINT);
    EXPECT_EQ(u.uint_value, 18446744073709551615ull);
    EXPECT_EQ(u.fits_int64, 0);

    u = read_one(hex("1903e8"));
    EXPECT_EQ(u.type, PYCTX_CBOR_UINT);
    EXPECT_EQ(u.uint_value, 1000u);
    EXPECT_EQ(u.fits_int64, 1);
    EXPECT_EQ(u.int_value, 1000);
    EXPECT_EQ(u.indefinite, 0);

    auto n = read_one(hex("3903e7"));
    EXPECT_EQ(n.type, PYCTX_CBOR_NEGINT);
    EXPECT_EQ(n.uint_value, 999u);
    EXPECT_EQ(n.fits_int64, 1);
    EXPECT_EQ(n.int_value, -1000);

    n = read_one(hex("3b7fffffffffffffff"));
    EXPECT_EQ(n.fits_int64, 1);
    EXPECT_EQ(n.int_value, std::numeric_limits<int64_t>::min());

    n = read_one(hex("3b8000000000000000"));
    EXPECT_EQ(n.type, PYCTX_CBOR_NEGINT);
    EXPECT_EQ(n.fits_int64, 0);
    EXPECT_EQ(n.uint_value, 0x8000000000000000ull);

    n = read_one(hex("3bffffffffffffffff"));  // -18446744073709551616
    EXPECT_EQ(n.fits_int64, 0);
    EXPECT_EQ(n.uint_value, 18446744073709551615ull);

    // Non-preferred (longer than needed) heads are well-formed and accepted.
    u = read_one(hex("1b0000000000000005"));
    EXPECT_EQ(u.uint_value, 5u);
}

TEST(CborReader, FloatsFromEveryWidth) {
    struct Case {
        const char *hex;
        double v;
    } cases[] = {
        {"f90000", 0.0},
        {"f93c00", 1.0},
        {"f93e00", 1.5},
        {"f97bff", 65504.0},
        {"fa47c35000", 100000.0},
        {"fa7f7fffff", 3.4028234663852886e+38},
        {"fb7e37e43c8800759c", 1.0e+300},
        {"f90001", 5.960464477539063e-8},
        {"f90400", 0.00006103515625},
        {"f9c400", -4.0},
        {"fbc010666666666666", -4.1},
        {"f97c00", std::numeric_limits<double>::infinity()},
        {"f9fc00", -std::numeric_limits<double>::infinity()},
        {"fa7f800000", std::numeric_limits<double>::infinity()},
        {"fb7ff0000000000000", std::numeric_limits<double>::infinity()},
    };
    for (const auto &c : cases) {
        auto item = read_one(hex(c.hex));
        EXPECT_EQ(item.type, PYCTX_CBOR_FLOAT) << c.hex;
        EXPECT_EQ(item.float_value, c.v) << c.hex;
    }
    auto z = read_one(hex("f98000"));
    EXPECT_EQ(z.float_value, 0.0);
    EXPECT_TRUE(std::signbit(z.float_value));
    for (const char *nan : {"f97e00", "fa7fc00000", "fb7ff8000000000000"})
        EXPECT_TRUE(std::isnan(read_one(hex(nan)).float_value)) << nan;
}

TEST(CborReader, SimpleValues) {
    EXPECT_EQ(read_one(hex("f4")).type, PYCTX_CBOR_FALSE);
    EXPECT_EQ(read_one(hex("f5")).type, PYCTX_CBOR_TRUE);
    EXPECT_EQ(read_one(hex("f6")).type, PYCTX_CBOR_NULL);
    EXPECT_EQ(read_one(hex("f7")).type, PYCTX_CBOR_UNDEFINED);
    auto s = read_one(hex("f0"));
    EXPECT_EQ(s.type, PYCTX_CBOR_SIMPLE);
    EXPECT_EQ(s.uint_value, 16u);
    s = read_one(hex("f8ff"));
    EXPECT_EQ(s.type, PYCTX_CBOR_SIMPLE);
    EXPECT_EQ(s.uint_value, 255u);
    s = read_one(hex("f820"));
    EXPECT_EQ(s.uint_value, 32u);
}

TEST(CborReader, StringsPointIntoTheBuffer) {
    Bytes b = hex("6449455446");
    size_t pos = 0;
    auto t = read_one(b, &pos);
    EXPECT_EQ(t.type, PYCTX_CBOR_TEXT);
    EXPECT_EQ(t.len, 4u);
    EXPECT_EQ(t.data, b.data() + 1);
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(t.data), t.len), "IETF");
    EXPECT_EQ(pos, 5u) << "a definite string's payload is consumed with its head";

    Bytes e = hex("40");
    auto empty = read_one(e);
    EXPECT_EQ(empty.type, PYCTX_CBOR_BYTES);
    EXPECT_EQ(empty.len, 0u);
}

TEST(CborReader, SequenceOfEveryType) {
    Writer w;
    ASSERT_EQ(pyctx_cbor_write_array(w.w, 12), 0);
    ASSERT_EQ(pyctx_cbor_write_int(w.w, 1), 0);
    ASSERT_EQ(pyctx_cbor_write_int(w.w, -2), 0);
    ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "a"), 0);
    const uint8_t one = 1;
    ASSERT_EQ(pyctx_cbor_write_bytes(w.w, &one, 1), 0);
    ASSERT_EQ(pyctx_cbor_write_float(w.w, 1.5), 0);
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 1), 0);
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 0), 0);
    ASSERT_EQ(pyctx_cbor_write_null(w.w), 0);
    ASSERT_EQ(pyctx_cbor_write_raw(w.w, hex("f7f0").data(), 2), 0);  // undefined, simple(16)
    ASSERT_EQ(pyctx_cbor_write_tag(w.w, 258), 0);
    ASSERT_EQ(pyctx_cbor_write_map(w.w, 1), 0);
    ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "k"), 0);
    ASSERT_EQ(pyctx_cbor_write_uint(w.w, 1ull << 40), 0);
    Bytes b = w.bytes();

    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    pyctx_cbor_item_t it;
    auto next = [&](pyctx_cbor_type type) {
        Outcome o = take(pyctx_cbor_read(&r, &it));
        EXPECT_EQ(o.status, PYCTX_OK) << o.message;
        EXPECT_EQ(it.type, type);
    };
    next(PYCTX_CBOR_ARRAY);
    EXPECT_EQ(it.count, 12u);
    EXPECT_EQ(it.indefinite, 0);
    next(PYCTX_CBOR_UINT);
    EXPECT_EQ(it.int_value, 1);
    next(PYCTX_CBOR_NEGINT);
    EXPECT_EQ(it.int_value, -2);
    EXPECT_EQ(it.uint_value, 1u);
    next(PYCTX_CBOR_TEXT);
    EXPECT_EQ(std::string(reinterpret_cast<const char *>(it.data), it.len), "a");
    next(PYCTX_CBOR_BYTES);
    ASSERT_EQ(it.len, 1u);
    EXPECT_EQ(it.data[0], 1);
    next(PYCTX_CBOR_FLOAT);
    EXPECT_EQ(it.float_value, 1.5);
    next(PYCTX_CBOR_TRUE);
    next(PYCTX_CBOR_FALSE);
    next(PYCTX_CBOR_NULL);
    next(PYCTX_CBOR_UNDEFINED);
    next(PYCTX_CBOR_SIMPLE);
    EXPECT_EQ(it.uint_value, 16u);
    next(PYCTX_CBOR_TAG);
    EXPECT_EQ(it.uint_value, 258u);
    next(PYCTX_CBOR_MAP);
    EXPECT_EQ(it.count, 1u);
    next(PYCTX_CBOR_TEXT);
    next(PYCTX_CBOR_UINT);
    EXPECT_EQ(it.uint_value, 1ull << 40);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);

    // Reading past the end is a decode error naming the offset.
    Outcome o = take(pyctx_cbor_read(&r, &it));
    EXPECT_EQ(o.status, PYCTX_ERR_DECODE);
    EXPECT_NE(o.message.find("at byte " + std::to_string(b.size())), std::string::npos)
        << o.message;
    EXPECT_NE(o.message.find("end of input"), std::string::npos) << o.message;
}

TEST(CborReader, IndefiniteStringsYieldChunks) {
    Bytes b = hex("5f42010243030405ff");  // (_ h'0102', h'030405')
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    pyctx_cbor_item_t it;
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.type, PYCTX_CBOR_BYTES);
    EXPECT_EQ(it.indefinite, 1);
    EXPECT_EQ(r.pos, 1u);
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.type, PYCTX_CBOR_BYTES);
    EXPECT_EQ(to_hex(it.data, it.len), "0102");
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(to_hex(it.data, it.len), "030405");
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.type, PYCTX_CBOR_BREAK);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);
}

TEST(CborReader, IndefiniteContainers) {
    Bytes b = hex("bf6346756ef563416d7421ff");  // {_ "Fun": true, "Amt": -2}
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    pyctx_cbor_item_t it;
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.type, PYCTX_CBOR_MAP);
    EXPECT_EQ(it.indefinite, 1);
    EXPECT_EQ(it.count, 0u);
    std::vector<pyctx_cbor_type> types;
    while (!pyctx_cbor_reader_at_end(&r)) {
        ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
        types.push_back(it.type);
    }
    EXPECT_EQ(types, (std::vector<pyctx_cbor_type>{PYCTX_CBOR_TEXT, PYCTX_CBOR_TRUE,
                                                   PYCTX_CBOR_TEXT, PYCTX_CBOR_NEGINT,
                                                   PYCTX_CBOR_BREAK}));
}

TEST(CborReader, SkipWholeItems) {
    // [1, [2, 3], [_ 4, 5]] then {_ "a": 1, "b": [_ 2, 3]} then 7
    Bytes b = hex("83018202039f0405ff" "bf61610161629f0203ffff" "07");
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    ASSERT_EQ(pyctx_cbor_skip(&r), nullptr);
    EXPECT_EQ(r.pos, 9u);
    ASSERT_EQ(pyctx_cbor_skip(&r), nullptr);
    EXPECT_EQ(r.pos, 20u);
    pyctx_cbor_item_t it;
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.uint_value, 7u);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);

    // Skipping a tag skips the tagged item; skipping inside an array works.
    Bytes t = hex("82d9010283010203f6");
    pyctx_cbor_reader_init(&r, t.data(), t.size());
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    ASSERT_EQ(pyctx_cbor_skip(&r), nullptr);
    ASSERT_EQ(pyctx_cbor_read(&r, &it), nullptr);
    EXPECT_EQ(it.type, PYCTX_CBOR_NULL);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);

    // A long chain of tags is fine (no recursion on tags).
    Bytes chain(100000, 0xc1);
    chain.push_back(0x00);
    pyctx_cbor_reader_init(&r, chain.data(), chain.size());
    ASSERT_EQ(pyctx_cbor_skip(&r), nullptr);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);
}

TEST(CborReader, NullArguments) {
    pyctx_cbor_item_t it;
    EXPECT_EQ(take(pyctx_cbor_read(nullptr, &it)).status, PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(take(pyctx_cbor_skip(nullptr)).status, PYCTX_ERR_INVALID_ARGUMENT);
    Bytes b = {0x01};
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, b.data(), b.size());
    EXPECT_EQ(take(pyctx_cbor_read(&r, nullptr)).status, PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(r.pos, 0u);
    r.pos = 2;  // past the end: a corrupted reader is an argument error
    EXPECT_EQ(take(pyctx_cbor_read(&r, &it)).status, PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(take(pyctx_cbor_skip(&r)).status, PYCTX_ERR_INVALID_ARGUMENT);
    pyctx_cbor_reader_t bad{nullptr, 3, 0};
    EXPECT_EQ(take(pyctx_cbor_read(&bad, &it)).status, PYCTX_ERR_INVALID_ARGUMENT);
    pyctx_cbor_reader_init(nullptr, b.data(), b.size());
    EXPECT_EQ(pyctx_cbor_reader_at_end(nullptr), 1);

    // An empty reader is at its end, and reading from it is a decode error.
    pyctx_cbor_reader_init(&r, nullptr, 0);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);
    EXPECT_EQ(take(pyctx_cbor_read(&r, &it)).status, PYCTX_ERR_DECODE);
    EXPECT_EQ(take(pyctx_cbor_skip(&r)).status, PYCTX_ERR_DECODE);
}

/* ======================================================================== */
/* Malformed input                                                          */
/* ======================================================================== */

TEST(CborMalformed, ReservedAdditionalInformation) {
    for (uint8_t major = 0; major < 8; ++major) {
        for (uint8_t ai = 28; ai <= 30; ++ai) {
            Bytes b = {static_cast<uint8_t>(major << 5 | ai), 0, 0, 0, 0, 0, 0, 0, 0};
            expect_read_error(b, 0, "reserved additional information value " + std::to_string(ai),
                              0);
            expect_skip_error(b, "reserved additional information", 0);
        }
    }
    // Also nested: [1, 2, <0x1c>] names byte 3.
    expect_skip_error(hex("8301021c"), "reserved additional information value 28", 3);
    EXPECT_NE(diag_hex("8301021c").find("at byte 3"), std::string::npos);
}

TEST(CborMalformed, IndefiniteLengthOnIntegersAndTags) {
    expect_read_error(hex("1f"), 0, "indefinite length is not allowed", 0);
    expect_read_error(hex("3f"), 0, "indefinite length is not allowed", 0);
    expect_read_error(hex("df00"), 0, "indefinite length is not allowed", 0);
}

TEST(CborMalformed, TruncatedHeads) {
    expect_read_error(hex("18"), 0, "truncated item head", 0);
    expect_read_error(hex("1900"), 0, "truncated item head", 0);
    expect_read_error(hex("1a000000"), 0, "truncated item head", 0);
    expect_read_error(hex("1b00000000000000"), 0, "truncated item head", 0);
    expect_read_error(hex("f97c"), 0, "truncated item head", 0);
    expect_read_error(hex("fb7ff0"), 0, "truncated item head", 0);
    expect_read_error(hex("d9"), 0, "truncated item head", 0);
    expect_read_error(hex("0118"), 1, "truncated item head", 1);
}

TEST(CborMalformed, TruncatedStringsAndContainers) {
    expect_read_error(hex("4201"), 0, "truncated byte string (declares 2 bytes, 1 left)", 0);
    expect_read_error(hex("6261"), 0, "truncated text string", 0);
    expect_read_error(hex("5bffffffffffffffff00"), 0, "truncated byte string", 0);
    expect_read_error(hex("830102"), 0, "truncated array (declares 3 items", 0);
    expect_read_error(hex("a2010203"), 0, "truncated map (declares 2 pairs", 0);
    expect_read_error(hex("9bffffffffffffffff"), 0, "truncated array", 0);
    // Heads that fit but items that do not.
    expect_skip_error(hex("828101"), "end of input", 3);
    expect_skip_error(hex("9f01"), "unterminated indefinite-length array (missing break)", 2);
    expect_skip_error(hex("bf0102"), "unterminated indefinite-length map", 3);
    expect_skip_error(hex("c1"), "end of input", 1);
    expect_skip_error(hex("5f4100"), "unterminated indefinite-length byte string", 3);
    // read checks the chunks of an indefinite string up front.
    expect_read_error(hex("5f4100"), 0, "missing break", 3);
}

TEST(CborMalformed, BreakOutsideIndefiniteItem) {
    expect_read_error(hex("ff"), 0, "unexpected break", 0);
    expect_skip_error(hex("ff"), "unexpected break", 0);
    expect_skip_error(hex("81ff"), "unexpected break", 1);
    expect_skip_error(hex("a101ff"), "unexpected break", 2);
    expect_skip_error(hex("bf01ff"), "unexpected break", 2);  // break where a value belongs
    expect_skip_error(hex("c1ff"), "unexpected break", 1);
    EXPECT_NE(diag_hex("82ff01").find("unexpected break"), std::string::npos);
}

TEST(CborMalformed, BadChunksInIndefiniteStrings) {
    expect_read_error(hex("5f6161ff"), 0, "must be a definite-length byte string, not a text string",
                      1);
    expect_read_error(hex("7f4161ff"), 0, "must be a definite-length text string, not a byte string",
                      1);
    expect_read_error(hex("5f5fffff"), 0, "not an indefinite-length byte string", 1);
    expect_read_error(hex("7f01ff"), 0, "not an unsigned integer", 1);
    expect_skip_error(hex("5f6161ff"), "must be a definite-length byte string", 1);
    expect_skip_error(hex("82017f4161ff"), "must be a definite-length text string", 3);
    EXPECT_NE(diag_hex("5f6161ff").find("chunk"), std::string::npos);
}

TEST(CborMalformed, TwoByteSimpleBelow32) {
    expect_read_error(hex("f810"), 0, "simple value 16 must not use the two-byte form", 0);
    expect_read_error(hex("f81f"), 0, "two-byte form", 0);
    expect_skip_error(hex("f800"), "two-byte form", 0);
}

TEST(CborMalformed, InvalidUtf8) {
    const char *bad[] = {
        "62c328",      // bad continuation
        "62c080",      // overlong NUL
        "63eda080",    // UTF-16 surrogate
        "64f4908080",  // above U+10FFFF
        "61ff",        // never valid
        "6180",        // lone continuation
        "62e282",      // truncated sequence
    };
    for (const char *h : bad) {
        expect_read_error(hex(h), 0, "text string is not valid UTF-8", 0);
        expect_skip_error(hex(h), "text string is not valid UTF-8", 0);
        EXPECT_NE(diag_hex(h).find("not valid UTF-8"), std::string::npos) << h;
    }
    // In chunks: each chunk must be valid on its own.
    expect_read_error(hex("7f61c361bcff"), 0, "not valid UTF-8", 1);
    // The byte named is the first bad one.
    expect_skip_error(hex("8201646162c328"), "bad byte at 5", 2);
}

TEST(CborMalformed, NestingDepth) {
    pyctx_cbor_reader_t r;
    Bytes ok = nested_arrays(PYCTX_CBOR_MAX_DEPTH);
    pyctx_cbor_reader_init(&r, ok.data(), ok.size());
    ASSERT_EQ(pyctx_cbor_skip(&r), nullptr);
    EXPECT_EQ(pyctx_cbor_reader_at_end(&r), 1);
    EXPECT_EQ(diag(ok).size(), static_cast<size_t>(2 * PYCTX_CBOR_MAX_DEPTH));

    Bytes deep = nested_arrays(PYCTX_CBOR_MAX_DEPTH + 1);
    expect_skip_error(deep, "nesting deeper than 256", PYCTX_CBOR_MAX_DEPTH);
    EXPECT_EQ(diagnose_error(deep).status, PYCTX_ERR_DECODE);
    EXPECT_NE(diagnose_error(deep).message.find("nesting deeper"), std::string::npos);

    // Maps count too; tags do not.
    Bytes maps;
    for (int i = 0; i < PYCTX_CBOR_MAX_DEPTH + 1; ++i) {
        maps.push_back(0xa1);
        maps.push_back(0x00);
    }
    maps.push_back(0x00);
    expect_skip_error(maps, "nesting deeper", 2 * PYCTX_CBOR_MAX_DEPTH);

    Bytes tagged;
    for (int i = 0; i < PYCTX_CBOR_MAX_DEPTH; ++i) {
        tagged.push_back(0xc1);
        tagged.push_back(0x81);
    }
    tagged.back() = 0x80;
    pyctx_cbor_reader_init(&r, tagged.data(), tagged.size());
    EXPECT_EQ(take(pyctx_cbor_skip(&r)).status, PYCTX_OK);
}

TEST(CborMalformed, DiagnoseRejectsTrailingBytesAndEmptyInput) {
    Outcome o = diagnose_error(hex("0102"));
    EXPECT_EQ(o.status, PYCTX_ERR_DECODE);
    EXPECT_NE(o.message.find("at byte 1: 1 trailing byte"), std::string::npos) << o.message;
    o = diagnose_error({});
    EXPECT_EQ(o.status, PYCTX_ERR_DECODE);
    EXPECT_NE(o.message.find("at byte 0"), std::string::npos) << o.message;

    pyctx_bytes_t out{nullptr, 0};
    EXPECT_EQ(take(pyctx_cbor_diagnose(nullptr, 0, &out)).status, PYCTX_ERR_DECODE);
    EXPECT_EQ(take(pyctx_cbor_diagnose(nullptr, 3, &out)).status, PYCTX_ERR_INVALID_ARGUMENT);
    Bytes one = {0x01};
    EXPECT_EQ(take(pyctx_cbor_diagnose(one.data(), 1, nullptr)).status,
              PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(out.data, nullptr) << "out_text written on error";
}

/* ======================================================================== */
/* Diagnostic notation                                                      */
/* ======================================================================== */

TEST(CborDiag, Rfc8949AppendixAExamples) {
    struct Case {
        const char *hex;
        const char *diag;
    } cases[] = {
        {"00", "0"},
        {"17", "23"},
        {"1864", "100"},
        {"1b000000e8d4a51000", "1000000000000"},
        {"1bffffffffffffffff", "18446744073709551615"},
        {"3bffffffffffffffff", "-18446744073709551616"},
        {"20", "-1"},
        {"3903e7", "-1000"},
        {"c249010000000000000000", "2(h'010000000000000000')"},
        {"c349010000000000000000", "3(h'010000000000000000')"},
        {"f90000", "0.0"},
        {"f98000", "-0.0"},
        {"f93c00", "1.0"},
        {"fb3ff199999999999a", "1.1"},
        {"f93e00", "1.5"},
        {"f97bff", "65504.0"},
        {"fa47c35000", "100000.0"},
        {"fa7f7fffff", "3.4028234663852886e+38"},
        {"fb7e37e43c8800759c", "1.0e+300"},
        {"f90001", "5.960464477539063e-8"},
        {"f90400", "6.103515625e-5"},
        {"f9c400", "-4.0"},
        {"fbc010666666666666", "-4.1"},
        {"f97c00", "Infinity"},
        {"f97e00", "NaN"},
        {"f9fc00", "-Infinity"},
        {"fb7ff8000000000000", "NaN"},
        {"f4", "false"},
        {"f5", "true"},
        {"f6", "null"},
        {"f7", "undefined"},
        {"f0", "simple(16)"},
        {"f8ff", "simple(255)"},
        {"c074323031332d30332d32315432303a30343a30305a", "0(\"2013-03-21T20:04:00Z\")"},
        {"c11a514b67b0", "1(1363896240)"},
        {"c1fb41d452d9ec200000", "1(1363896240.5)"},
        {"d74401020304", "23(h'01020304')"},
        {"d818456449455446", "24(h'6449455446')"},
        {"40", "h''"},
        {"4401020304", "h'01020304'"},
        {"60", "\"\""},
        {"6161", "\"a\""},
        {"62225c", "\"\\\"\\\\\""},
        {"62c3bc", "\"\xc3\xbc\""},
        {"63e6b0b4", "\"\xe6\xb0\xb4\""},
        {"80", "[]"},
        {"83010203", "[1, 2, 3]"},
        {"8301820203820405", "[1, [2, 3], [4, 5]]"},
        {"a0", "{}"},
        {"a201020304", "{1: 2, 3: 4}"},
        {"a26161016162820203", "{\"a\": 1, \"b\": [2, 3]}"},
        {"826161a161626163", "[\"a\", {\"b\": \"c\"}]"},
        {"5f42010243030405ff", "(_ h'0102', h'030405')"},
        {"7f657374726561646d696e67ff", "(_ \"strea\", \"ming\")"},
        {"9fff", "[_ ]"},
        {"9f018202039f0405ffff", "[_ 1, [2, 3], [_ 4, 5]]"},
        {"83019f0203ff820405", "[1, [_ 2, 3], [4, 5]]"},
        {"bf61610161629f0203ffff", "{_ \"a\": 1, \"b\": [_ 2, 3]}"},
        {"bf6346756ef563416d7421ff", "{_ \"Fun\": true, \"Amt\": -2}"},
        {"bfff", "{_ }"},
        {"5fff", "''_"},
        {"7fff", "\"\"_"},
    };
    for (const auto &c : cases) EXPECT_EQ(diag_hex(c.hex), c.diag) << c.hex;
}

TEST(CborDiag, ProjectTagsAndEscapes) {
    EXPECT_EQ(diag_hex("d901028201 02"), "258([1, 2])");
    EXPECT_EQ(diag_hex("d8276261 6b"), "39(\"ak\")");
    EXPECT_EQ(diag_hex("d970798201f6"), "28793([1, null])");
    EXPECT_EQ(diag_hex("d9707a4200ff"), "28794(h'00ff')");
    EXPECT_EQ(diag_hex("c1c1c100"), "1(1(1(0)))");
    // Control characters are escaped; everything else is passed through.
    EXPECT_EQ(diag_hex("6a0a0d09080c011f7f2f41"), "\"\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/A\"");
}

TEST(CborDiag, DoublesLikePythonRepr) {
    struct Case {
        double v;
        const char *diag;
    } cases[] = {
        {0.1, "0.1"},       {123.456, "123.456"},   {1e16, "1.0e+16"},
        {1e15, "1000000000000000.0"},               {0.0001, "0.0001"},
        {0.00001, "1.0e-5"},                        {-2.5e-10, "-2.5e-10"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5.0e-324"},
    };
    for (const auto &c : cases) {
        Writer w;
        ASSERT_EQ(pyctx_cbor_write_float(w.w, c.v), 0);
        EXPECT_EQ(diag(w.bytes()), c.diag);
    }
}

/* ======================================================================== */
/* Consistency: random input never crashes, skip and diagnose agree         */
/* ======================================================================== */

TEST(CborFuzz, RandomInputIsRejectedCleanly) {
    std::mt19937 rng(12345);
    // Bias towards bytes that form valid heads so that many inputs parse.
    const uint8_t common[] = {0x00, 0x01, 0x18, 0x20, 0x40, 0x41, 0x5f, 0x60, 0x61, 0x7f,
                              0x80, 0x81, 0x82, 0x9f, 0xa0, 0xa1, 0xbf, 0xc1, 0xd9, 0xf4,
                              0xf6, 0xf9, 0xfb, 0xff, 0x1c, 0xc3, 0xa9, 0x62};
    size_t accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        Bytes b(rng() % 12);
        for (auto &x : b)
            x = (rng() % 3) ? common[rng() % sizeof common] : static_cast<uint8_t>(rng());

        pyctx_cbor_reader_t r;
        pyctx_cbor_reader_init(&r, b.data(), b.size());
        Outcome skip = take(pyctx_cbor_skip(&r));
        const bool whole = skip.status == PYCTX_OK && r.pos == b.size();
        if (skip.status != PYCTX_OK) {
            EXPECT_EQ(skip.status, PYCTX_ERR_DECODE);
            EXPECT_EQ(r.pos, 0u);
            EXPECT_EQ(skip.message.rfind("invalid CBOR at byte ", 0), 0u) << skip.message;
        }
        Outcome d = diagnose_error(b);
        EXPECT_EQ(d.status == PYCTX_OK, whole)
            << to_hex(b.data(), b.size()) << " skip: " << skip.message << " diag: " << d.message;
        if (whole) ++accepted;

        // Reading head by head never crashes and stops at the first error.
        pyctx_cbor_reader_init(&r, b.data(), b.size());
        pyctx_cbor_item_t it;
        for (int n = 0; n < 64 && !pyctx_cbor_reader_at_end(&r); ++n) {
            size_t before = r.pos;
            pyctx_error_t *e = pyctx_cbor_read(&r, &it);
            if (e) {
                EXPECT_EQ(pyctx_error_status(e), PYCTX_ERR_DECODE);
                EXPECT_EQ(r.pos, before);
                pyctx_error_free(e);
                break;
            }
            EXPECT_GT(r.pos, before);
        }
    }
    EXPECT_GT(accepted, 500u) << "the generator should produce plenty of valid items";
}

TEST(CborRoundTrip, WriterReaderDiag) {
    Writer w;
    ASSERT_EQ(pyctx_cbor_write_map(w.w, 3), 0);
    ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "ints"), 0);
    ASSERT_EQ(pyctx_cbor_write_array(w.w, 4), 0);
    ASSERT_EQ(pyctx_cbor_write_int(w.w, std::numeric_limits<int64_t>::min()), 0);
    ASSERT_EQ(pyctx_cbor_write_int(w.w, 0), 0);
    ASSERT_EQ(pyctx_cbor_write_uint(w.w, UINT64_MAX), 0);
    ASSERT_EQ(pyctx_cbor_write_float(w.w, -0.5), 0);
    ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "set"), 0);
    ASSERT_EQ(pyctx_cbor_write_tag(w.w, PYCTX_CBOR_TAG_SET), 0);
    ASSERT_EQ(pyctx_cbor_write_array(w.w, 2), 0);
    ASSERT_EQ(pyctx_cbor_write_tag(w.w, PYCTX_CBOR_TAG_SYMBOL), 0);
    ASSERT_EQ(pyctx_cbor_write_cstr(w.w, "ok"), 0);
    ASSERT_EQ(pyctx_cbor_write_null(w.w), 0);
    ASSERT_EQ(pyctx_cbor_write_bytes(w.w, reinterpret_cast<const uint8_t *>("\x00\xff"), 2), 0);
    ASSERT_EQ(pyctx_cbor_write_bool(w.w, 1), 0);
    EXPECT_EQ(diag(w.bytes()),
              "{\"ints\": [-9223372036854775808, 0, 18446744073709551615, -0.5], "
              "\"set\": 258([39(\"ok\"), null]), h'00ff': true}");
}

}  // namespace
