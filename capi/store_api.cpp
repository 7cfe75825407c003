// The shared store (core/host/store.h) for the host.
#include <cstdlib>
#include <cstring>

#include "capi/handles.h"
#include "core/cbor/writer.h"
#include "core/host/store.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

namespace {

pyctx_error_t *check_key(const char *key) {
    if (!key) return invalid("key is NULL");
    return capi::to_c(core::check_store_key(key));
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_store_put(const char *key, const uint8_t *value, size_t len,
                                         uint64_t *out_version) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_key(key)) return e;
        if (!value && len) return invalid("value is NULL but its length is not 0");
        return capi::to_c(core::shared_store().put(key, value, len, out_version));
    });
}

PYCTX_API pyctx_error_t *pyctx_store_get(const char *key, pyctx_bytes_t *out_value,
                                         uint64_t *out_version) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_key(key)) return e;
        if (!out_value) return invalid("out_value is NULL");
        std::string value;
        uint64_t version = 0;
        if (!core::shared_store().get(key, &value, &version))
            return capi::make_error(PYCTX_ERR_NOT_FOUND, std::string("no store entry '") + key + "'");
        auto *data = static_cast<uint8_t *>(std::malloc(value.size()));
        if (!data) return capi::make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
        std::memcpy(data, value.data(), value.size());
        out_value->data = data;
        out_value->len = value.size();
        if (out_version) *out_version = version;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_store_cas(const char *key, uint64_t expected_version,
                                         const uint8_t *value, size_t len, int *out_swapped,
                                         uint64_t *out_version) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_key(key)) return e;
        if (!out_swapped) return invalid("out_swapped is NULL");
        if (!value && len) return invalid("value is NULL but its length is not 0");
        bool swapped = false;
        uint64_t version = 0;
        core::Error err =
            core::shared_store().cas(key, expected_version, value, len, &swapped, &version);
        if (!err.ok()) return capi::make_error(std::move(err));
        *out_swapped = swapped ? 1 : 0;
        if (out_version) *out_version = version;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_store_delete(const char *key, uint64_t expected_version,
                                            int *out_deleted) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_key(key)) return e;
        bool deleted = core::shared_store().erase(key, expected_version);
        if (out_deleted) *out_deleted = deleted ? 1 : 0;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_store_keys(const char *prefix, pyctx_bytes_t *out_keys) {
    return guarded([&]() -> pyctx_error_t * {
        if (!out_keys) return invalid("out_keys is NULL");
        if (prefix)
            if (auto *e = capi::check_text(prefix, "prefix", true)) return e;
        std::vector<std::string> keys = core::shared_store().keys(prefix ? prefix : "");
        core::ByteBuffer out;
        bool ok = core::cbor::write_head(out, core::cbor::Major::array, keys.size());
        for (const auto &k : keys) {
            ok = ok && core::cbor::write_head(out, core::cbor::Major::text, k.size()) &&
                 out.append(k.data(), k.size());
        }
        if (!ok) return capi::make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
        out_keys->data = out.release(&out_keys->len);
        return nullptr;
    });
}

}  // extern "C"
