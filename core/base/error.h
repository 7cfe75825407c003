// The engine's error value. The C API wraps it as pyctx_error_t; the core
// never sees the C API, so the status enum is re-declared here with the same
// numbers (a static_assert in capi/ keeps them in step).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace pyctx::core {

enum class Status : int {
    ok = 0,
    invalid_argument = 1,
    not_running = 2,
    already_initialized = 3,
    unsupported = 4,
    closed = 5,
    queue_full = 6,
    cancelled = 7,
    timeout = 8,
    python = 9,
    decode = 10,
    encode = 11,
    not_found = 12,
    no_memory = 13,
    stuck = 14,
    internal = 15,
    crashed = 16,  // a process context's child died
};

struct Error {
    Status status = Status::ok;
    std::string message;
    std::string python_type;  // only for Status::python
    std::string traceback;    // only for Status::python

    Error() = default;
    Error(Status s, std::string msg) : status(s), message(std::move(msg)) {}

    [[nodiscard]] bool ok() const { return status == Status::ok; }
};

}  // namespace pyctx::core
