// Building request arguments with the public pyctx_cbor_writer and reading
// results back with the public pull reader: the tests use nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pyctx.h"
#include "support/handles.h"

namespace pyctx_test {

using Cbor = std::vector<uint8_t>;

/** Already-encoded CBOR spliced into a larger item (e.g. a nested array). */
struct RawCbor {
    Cbor bytes;
};

class CborBuilder {
public:
    CborBuilder() : w_(pyctx_cbor_writer_new()) {}
    CborBuilder(const CborBuilder &) = delete;
    CborBuilder &operator=(const CborBuilder &) = delete;
    ~CborBuilder() { pyctx_cbor_writer_free(w_); }

    pyctx_cbor_writer_t *writer() { return w_; }

    template <class T>
    CborBuilder &put(const T &v) {
        using U = std::decay_t<T>;
        if constexpr (std::is_same_v<U, bool>) {
            check(pyctx_cbor_write_bool(w_, v ? 1 : 0));
        } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
            check(pyctx_cbor_write_null(w_));
        } else if constexpr (std::is_integral_v<U> && std::is_unsigned_v<U>) {
            check(pyctx_cbor_write_uint(w_, static_cast<uint64_t>(v)));
        } else if constexpr (std::is_integral_v<U>) {
            check(pyctx_cbor_write_int(w_, static_cast<int64_t>(v)));
        } else if constexpr (std::is_floating_point_v<U>) {
            check(pyctx_cbor_write_float(w_, static_cast<double>(v)));
        } else if constexpr (std::is_same_v<U, RawCbor>) {
            check(pyctx_cbor_write_raw(w_, v.bytes.data(), v.bytes.size()));
        } else {
            std::string_view s(v);
            check(pyctx_cbor_write_text(w_, s.data(), s.size()));
        }
        return *this;
    }
    CborBuilder &array(uint64_t n) { check(pyctx_cbor_write_array(w_, n)); return *this; }
    CborBuilder &map(uint64_t n) { check(pyctx_cbor_write_map(w_, n)); return *this; }
    CborBuilder &tag(uint64_t t) { check(pyctx_cbor_write_tag(w_, t)); return *this; }

    Cbor take() const {
        size_t len = 0;
        const uint8_t *data = pyctx_cbor_writer_data(w_, &len);
        return data ? Cbor(data, data + len) : Cbor{};
    }

private:
    static void check(int rc) { EXPECT_EQ(rc, 0) << "pyctx_cbor_write_* failed"; }
    pyctx_cbor_writer_t *w_;
};

/** cbor_array(1, "a", true) == CBOR of [1, "a", true]. */
template <class... T>
Cbor cbor_array(const T &...items) {
    CborBuilder b;
    b.array(sizeof...(items));
    (b.put(items), ...);
    return b.take();
}

/** cbor_map("k", 1, "v", "x") == CBOR of {"k": 1, "v": "x"}. */
template <class... T>
Cbor cbor_map(const T &...keys_and_values) {
    static_assert(sizeof...(keys_and_values) % 2 == 0, "key/value pairs");
    CborBuilder b;
    b.map(sizeof...(keys_and_values) / 2);
    (b.put(keys_and_values), ...);
    return b.take();
}

template <class T>
Cbor cbor_value(const T &v) {
    CborBuilder b;
    b.put(v);
    return b.take();
}

/** RFC 8949 diagnostic notation of a buffer, for failure messages. */
inline std::string diag(const uint8_t *data, size_t len) {
    if (!data || len == 0) return "<empty>";
    pyctx_bytes_t text{nullptr, 0};
    Error e(pyctx_cbor_diagnose(data, len, &text));
    if (e) return "<undecodable: " + std::string(pyctx_error_message(e.get())) + ">";
    std::string s(reinterpret_cast<const char *>(text.data), text.len);
    pyctx_bytes_free(&text);
    return s;
}
inline std::string diag(const Cbor &c) { return diag(c.data(), c.size()); }
inline std::string diag(const Bytes &b) { return diag(b.data(), b.size()); }

// ---- readers: nullopt when the buffer is not exactly one such item -------

namespace detail {
inline bool read_item(pyctx_cbor_reader_t &r, pyctx_cbor_item_t &item) {
    Error e(pyctx_cbor_read(&r, &item));
    return !e;
}
inline std::optional<int64_t> read_int(pyctx_cbor_reader_t &r) {
    pyctx_cbor_item_t item{};
    if (!read_item(r, item)) return std::nullopt;
    if (item.type == PYCTX_CBOR_UINT && item.uint_value <= INT64_MAX)
        return static_cast<int64_t>(item.uint_value);
    if (item.type == PYCTX_CBOR_NEGINT && item.fits_int64) return item.int_value;
    return std::nullopt;
}
inline std::optional<std::string> read_text(pyctx_cbor_reader_t &r) {
    pyctx_cbor_item_t item{};
    if (!read_item(r, item) || item.type != PYCTX_CBOR_TEXT || item.indefinite) return std::nullopt;
    return std::string(reinterpret_cast<const char *>(item.data), item.len);
}
} // namespace detail

inline std::optional<int64_t> as_int(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    auto v = detail::read_int(r);
    if (!v || !pyctx_cbor_reader_at_end(&r)) return std::nullopt;
    return v;
}
inline std::optional<int64_t> as_int(const Bytes &b) { return as_int(b.data(), b.size()); }
inline std::optional<int64_t> as_int(const Cbor &c) { return as_int(c.data(), c.size()); }

inline std::optional<std::string> as_text(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    auto v = detail::read_text(r);
    if (!v || !pyctx_cbor_reader_at_end(&r)) return std::nullopt;
    return v;
}
inline std::optional<std::string> as_text(const Bytes &b) { return as_text(b.data(), b.size()); }
inline std::optional<std::string> as_text(const Cbor &c) { return as_text(c.data(), c.size()); }

inline std::optional<bool> as_bool(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    pyctx_cbor_item_t item{};
    if (!detail::read_item(r, item) || !pyctx_cbor_reader_at_end(&r)) return std::nullopt;
    if (item.type == PYCTX_CBOR_TRUE) return true;
    if (item.type == PYCTX_CBOR_FALSE) return false;
    return std::nullopt;
}
inline std::optional<bool> as_bool(const Bytes &b) { return as_bool(b.data(), b.size()); }
inline std::optional<bool> as_bool(const Cbor &c) { return as_bool(c.data(), c.size()); }

inline bool is_null(const uint8_t *data, size_t len) { return len == 1 && data && data[0] == 0xf6; }
inline bool is_null(const Bytes &b) { return is_null(b.data(), b.size()); }
inline bool is_null(const Cbor &c) { return is_null(c.data(), c.size()); }

/** A definite array of integers, e.g. [3, 2, 1]. */
inline std::optional<std::vector<int64_t>> as_int_list(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    pyctx_cbor_item_t head{};
    if (!detail::read_item(r, head) || head.type != PYCTX_CBOR_ARRAY || head.indefinite)
        return std::nullopt;
    std::vector<int64_t> out;
    for (uint64_t i = 0; i < head.count; ++i) {
        auto v = detail::read_int(r);
        if (!v) return std::nullopt;
        out.push_back(*v);
    }
    if (!pyctx_cbor_reader_at_end(&r)) return std::nullopt;
    return out;
}
inline std::optional<std::vector<int64_t>> as_int_list(const Bytes &b) {
    return as_int_list(b.data(), b.size());
}
inline std::optional<std::vector<int64_t>> as_int_list(const Cbor &c) {
    return as_int_list(c.data(), c.size());
}

} // namespace pyctx_test
