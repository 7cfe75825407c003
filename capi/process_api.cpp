// Options and introspection of process contexts (pyctx.h "Contexts").
#include "capi/handles.h"
#include "capi/option_setters.h"

using namespace pyctx;
using capi::invalid;
using capi::set_option;
using capi::set_text;

extern "C" {

PYCTX_API pyctx_error_t *pyctx_context_options_set_process_helper(
    pyctx_context_options_t *options, const char *path) {
    if (path)
        return set_text(options, path, "helper path",
                        [&] { options->options.process_helper = path; }, true);
    return set_option(options, [&] { options->options.process_helper.clear(); });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_restart(pyctx_context_options_t *options,
                                                           uint32_t max_restarts,
                                                           uint32_t window_ms) {
    return set_option(options, [&] {
        options->options.restart_max = max_restarts;
        options->options.restart_window_ms = window_ms;
    });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_process_output(
    pyctx_context_options_t *options, pyctx_process_output output) {
    return capi::set_enum(options, static_cast<int>(output),
                          {PYCTX_PROCESS_OUTPUT_STDERR, PYCTX_PROCESS_OUTPUT_LOG},
                          "process output", "stderr or log", [&](int o) {
                              options->options.process_output = static_cast<core::ProcessOutput>(o);
                          });
}

PYCTX_API pyctx_error_t *pyctx_context_process_info(const pyctx_context_t *context,
                                                    uint64_t *out_pid, uint32_t *out_restarts) {
    if (!context) return invalid("context is NULL");
    core::ContextStats s = context->ctx->stats();
    if (out_pid) *out_pid = s.child_pid;
    if (out_restarts) *out_restarts = s.restarts;
    return nullptr;
}

}  // extern "C"
