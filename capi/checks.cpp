#include <cstring>

#include "capi/handles.h"
#include "core/cbor/reader.h"

namespace pyctx::capi {

pyctx_error_t *check_text(const char *value, const char *what, bool allow_empty,
                          size_t *out_len) {
    if (!value) return invalid(std::string(what) + " is NULL");
    size_t len = std::strlen(value);
    if (out_len) *out_len = len;
    if (!allow_empty && len == 0) return invalid(std::string(what) + " is empty");
    size_t bad = 0;
    if (!core::cbor::utf8_valid(reinterpret_cast<const uint8_t *>(value), len, &bad)) {
        return invalid(std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    }
    return nullptr;
}

pyctx_error_t *check_enum(int value, std::initializer_list<int> allowed, const char *what,
                          const char *expected) {
    for (int a : allowed)
        if (value == a) return nullptr;
    return invalid(std::string("unknown ") + what + " " + std::to_string(value) + " (expected " +
                   expected + ")");
}

pyctx_error_t *check_cbor(const uint8_t *data, size_t len, int major, const char *what) {
    if (len == 0) return nullptr;
    if (!data) return invalid(std::string(what) + " is NULL but its length is not 0");
    core::Error err;
    if (!core::cbor::check_single_item(data, len, &err))
        return make_error(PYCTX_ERR_DECODE, std::string(what) + ": " + err.message);
    if ((data[0] >> 5) != major) {
        return make_error(PYCTX_ERR_DECODE, std::string(what) + " must be a CBOR " +
                                                (major == 4 ? "array" : "map"));
    }
    return nullptr;
}

}  // namespace pyctx::capi
