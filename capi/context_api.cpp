// Contexts and envs: creation, closing, introspection.
#include <cstring>

#include "capi/create_handle.h"
#include "capi/handles.h"
#include "capi/option_setters.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;
using capi::set_enum;
using capi::set_option;
using capi::set_text;

extern "C" {

PYCTX_API pyctx_context_options_t *pyctx_context_options_new(void) {
    return new (std::nothrow) pyctx_context_options();
}

PYCTX_API void pyctx_context_options_free(pyctx_context_options_t *options) { delete options; }

PYCTX_API pyctx_error_t *pyctx_context_options_set_mode(pyctx_context_options_t *options,
                                                        pyctx_mode mode) {
    return set_enum(options, static_cast<int>(mode),
                    {PYCTX_MODE_WORKER, PYCTX_MODE_OWNGIL, PYCTX_MODE_PROCESS}, "context mode",
                    "worker, owngil or process",
                    [&](int m) { options->options.mode = static_cast<core::Mode>(m); });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_mode_name(pyctx_context_options_t *options,
                                                             const char *mode) {
    return set_text(options, mode, "mode", [&]() -> pyctx_error_t * {
        if (std::strcmp(mode, "worker") == 0) {
            options->options.mode = core::Mode::worker;
        } else if (std::strcmp(mode, "owngil") == 0) {
            options->options.mode = core::Mode::owngil;
        } else if (std::strcmp(mode, "process") == 0) {
            options->options.mode = core::Mode::process;
        } else {
            return invalid(std::string("unknown context mode '") + mode +
                           "' (expected 'worker', 'owngil' or 'process')");
        }
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_name(pyctx_context_options_t *options,
                                                        const char *name) {
    return set_text(options, name, "name", [&] { options->options.name = name; });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_preload(pyctx_context_options_t *options,
                                                           const char *code) {
    return set_text(options, code, "preload code", [&] { options->options.preload = code; }, true);
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_queue_capacity(pyctx_context_options_t *options,
                                                                  size_t capacity) {
    return set_option(options, [&] { options->options.queue_capacity = capacity; });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_create_timeout(pyctx_context_options_t *options,
                                                                   uint32_t timeout_ms) {
    return set_option(options, [&] { options->options.create_timeout_ms = timeout_ms; });
}

PYCTX_API pyctx_error_t *pyctx_context_create(const pyctx_context_options_t *options,
                                              pyctx_context_t **out_context) {
    return capi::create_handle<core::Context>(options, out_context, "out_context");
}

PYCTX_API pyctx_error_t *pyctx_context_close(pyctx_context_t *context, uint32_t timeout_ms) {
    return capi::close_handle(context, "context", "pyctx_context_free",
                              [&] { return context->ctx->close(timeout_ms); });
}

PYCTX_API void pyctx_context_free(pyctx_context_t *context) {
    if (!context) return;
    if (context->close_on_free) context->ctx->begin_close();
    delete context;
}

PYCTX_API pyctx_mode pyctx_context_mode(const pyctx_context_t *context) {
    return context ? static_cast<pyctx_mode>(context->ctx->mode()) : PYCTX_MODE_WORKER;
}

PYCTX_API const char *pyctx_context_name(const pyctx_context_t *context) {
    return context ? context->ctx->name().c_str() : "";
}

PYCTX_API int pyctx_context_is_closed(const pyctx_context_t *context) {
    return !context || context->ctx->is_closing() ? 1 : 0;
}

PYCTX_API pyctx_error_t *pyctx_context_stats(const pyctx_context_t *context,
                                             pyctx_context_stats_t *out_stats, size_t stats_size) {
    if (!context) return invalid("context is NULL");
    if (!out_stats) return invalid("out_stats is NULL");
    core::ContextStats s = context->ctx->stats();
    pyctx_context_stats_t full = {s.completed,   s.failed,      s.cancelled,
                                  s.timed_out,   s.closed,      s.queue_depth,
                                  s.thread_id,   s.memory_used, s.memory_limit,
                                  s.live_objects};
    std::memcpy(out_stats, &full, stats_size < sizeof full ? stats_size : sizeof full);
    return nullptr;
}

PYCTX_API pyctx_error_t *pyctx_env_create(pyctx_context_t *context, pyctx_env_t **out_env) {
    return guarded([&]() -> pyctx_error_t * {
        if (!context) return invalid("context is NULL");
        if (!out_env) return invalid("out_env is NULL");
        if (!core::Runtime::get().running()) return capi::not_running();
        if (context->ctx->is_closing())
            return capi::make_error(PYCTX_ERR_CLOSED,
                                    "context '" + context->ctx->name() + "' is closed");
        // The namespace itself is created lazily on the context thread.
        *out_env = new pyctx_env{context->ctx, context->ctx->new_env_id()};
        return nullptr;
    });
}

PYCTX_API void pyctx_env_free(pyctx_env_t *env) {
    if (!env) return;
    try {
        env->ctx->drop_env(env->id);
    } catch (...) {
        // Out of memory: the namespace lives until the context closes.
    }
    delete env;
}

}  // extern "C"
