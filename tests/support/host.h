// Helpers for host functions: decoding a call's argument array and
// answering with an integer.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/handles.h"

namespace pyctx_test {

/** The call's positional arguments when they are all integers. */
inline std::optional<std::vector<int64_t>> int_args(const pyctx_host_call_t *call) {
    size_t len = 0;
    const uint8_t *args = pyctx_host_call_args(call, &len);
    return as_int_list(args, len);
}

/** Answers `call` with an integer; returns the status of the answer. */
inline pyctx_status answer_int(pyctx_host_call_t *call, int64_t value) {
    Cbor v = cbor_value(value);
    Error e(pyctx_host_call_return(call, v.data(), v.size()));
    return status_of(e.get());
}

inline pyctx_status answer_error(pyctx_host_call_t *call, const char *message) {
    Error e(pyctx_host_call_fail(call, message));
    return status_of(e.get());
}

} // namespace pyctx_test
