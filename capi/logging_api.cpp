// Python logging forwarded to the host (core/host/log_sink.h).
#include "capi/handles.h"
#include "capi/registration.h"
#include "core/host/log_sink.h"
#include "core/host/setup_log.h"
#include "core/python/log_install.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

namespace {

class CLogHandler final : public core::LogHandler, public capi::HostCallback<pyctx_log_fn> {
public:
    using HostCallback::HostCallback;
    void handle(const core::LogRecord &r) override {
        pyctx_log_record_t rec;
        rec.level = r.level;
        rec.logger = r.logger.c_str();
        rec.message = r.message.c_str();
        rec.exception = r.exception.c_str();
        rec.context_name = r.context_name.c_str();
        rec.created = r.created;
        call_fn(&rec);
    }
};

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_log_set_handler(pyctx_log_fn fn, void *user_data,
                                               pyctx_free_fn free_user_data, int min_level,
                                               size_t capacity) {
    return guarded([&]() -> pyctx_error_t * {
        if (core::Runtime::get().state() == core::State::stopped) return capi::not_running();
        if (!fn) {
            if (user_data || free_user_data) return invalid("user data given without fn");
            core::log_sink().set_handler(nullptr, 0, 0);
            core::setup_log().append(
                core::SetupStep{core::SetupStep::Kind::run_code, core::log_remove_code(), {}});
            return nullptr;
        }
        if (min_level < 0) return invalid("min_level is negative");
        if (capacity == 0) return invalid("capacity is 0");
        capi::install<CLogHandler>(
            [&](std::shared_ptr<CLogHandler> h) {
                core::log_sink().set_handler(std::move(h), min_level, capacity);
            },
            fn, user_data, free_user_data);  // the sink owns it from here
        core::setup_log().append(
            core::SetupStep{core::SetupStep::Kind::run_code, core::log_install_code(min_level), {}});
        return nullptr;
    });
}

PYCTX_API void pyctx_log_stats(pyctx_log_stats_t *out_stats) {
    if (!out_stats) return;
    out_stats->delivered = core::log_sink().delivered();
    out_stats->dropped = core::log_sink().dropped();
}

PYCTX_API pyctx_error_t *pyctx_log_flush(uint32_t timeout_ms) {
    return guarded([&]() -> pyctx_error_t * {
        if (!core::log_sink().flush(timeout_ms))
            return capi::make_error(PYCTX_ERR_TIMEOUT, "log records still queued after the timeout");
        return nullptr;
    });
}

}  // extern "C"
