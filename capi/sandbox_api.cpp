// Sandbox policies and memory limits of contexts.
#include "capi/handles.h"
#include "capi/option_setters.h"

using namespace pyctx;
using capi::invalid;
using capi::set_option;

struct pyctx_sandbox {
    core::SandboxPolicy policy;
};

extern "C" {

PYCTX_API pyctx_sandbox_t *pyctx_sandbox_new(void) { return new (std::nothrow) pyctx_sandbox(); }

PYCTX_API void pyctx_sandbox_free(pyctx_sandbox_t *sandbox) { delete sandbox; }

PYCTX_API pyctx_error_t *pyctx_sandbox_block_process_creation(pyctx_sandbox_t *sandbox) {
    return set_option(sandbox, [&] { sandbox->policy.block_process_creation = true; }, "sandbox");
}

PYCTX_API pyctx_error_t *pyctx_sandbox_block_sockets(pyctx_sandbox_t *sandbox) {
    return set_option(sandbox, [&] { sandbox->policy.block_sockets = true; }, "sandbox");
}

PYCTX_API pyctx_error_t *pyctx_sandbox_restrict_files(pyctx_sandbox_t *sandbox) {
    return set_option(sandbox, [&] { sandbox->policy.restrict_files = true; }, "sandbox");
}

PYCTX_API pyctx_error_t *pyctx_sandbox_allow_path(pyctx_sandbox_t *sandbox, const char *path,
                                                  int read_only) {
    return set_option(sandbox, [&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(path, "path")) return e;
        if (path[0] != '/')
            return invalid(std::string("sandbox path '") + path + "' is not absolute");
        sandbox->policy.paths.push_back({path, read_only != 0});
        sandbox->policy.restrict_files = true;
        return nullptr;
    }, "sandbox");
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_sandbox(pyctx_context_options_t *options,
                                                           const pyctx_sandbox_t *sandbox) {
    return set_option(options, [&] {
        if (!sandbox) {
            options->options.sandbox.reset();
        } else {
            options->options.sandbox = std::make_shared<const core::SandboxPolicy>(sandbox->policy);
        }
    });
}

PYCTX_API pyctx_error_t *pyctx_context_options_set_memory_limit(pyctx_context_options_t *options,
                                                                size_t bytes) {
    return set_option(options, [&]() -> pyctx_error_t * {
        if (bytes != 0 && bytes < PYCTX_MIN_MEMORY_LIMIT)
            return invalid("memory limit " + std::to_string(bytes) + " is below the minimum of " +
                           std::to_string(PYCTX_MIN_MEMORY_LIMIT) +
                           " bytes (an interpreter needs that much to start)");
        options->options.memory_limit = bytes;
        return nullptr;
    });
}

}  // extern "C"
