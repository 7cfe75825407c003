// Runtime lifecycle and version: pyctx_init, pyctx_shutdown, options.
#include "capi/handles.h"
#include "capi/option_setters.h"

using namespace pyctx;
using capi::guarded;
using capi::set_enum;
using capi::set_text;

extern "C" {

PYCTX_API uint32_t pyctx_version(void) { return PYCTX_VERSION; }

PYCTX_API const char *pyctx_version_string(void) {
#define PYCTX_STR2(x) #x
#define PYCTX_STR(x) PYCTX_STR2(x)
    return PYCTX_STR(PYCTX_VERSION_MAJOR) "." PYCTX_STR(PYCTX_VERSION_MINOR) "." PYCTX_STR(
        PYCTX_VERSION_PATCH);
#undef PYCTX_STR
#undef PYCTX_STR2
}

PYCTX_API pyctx_runtime_options_t *pyctx_runtime_options_new(void) {
    return new (std::nothrow) pyctx_runtime_options();
}

PYCTX_API void pyctx_runtime_options_free(pyctx_runtime_options_t *options) { delete options; }

PYCTX_API pyctx_error_t *pyctx_runtime_options_add_path(pyctx_runtime_options_t *options,
                                                        const char *path) {
    return set_text(options, path, "path", [&] { options->options.paths.emplace_back(path); });
}

PYCTX_API pyctx_error_t *pyctx_runtime_options_set_home(pyctx_runtime_options_t *options,
                                                        const char *home) {
    return set_text(options, home, "home", [&] { options->options.home = home; });
}

PYCTX_API pyctx_error_t *pyctx_runtime_options_set_program_name(pyctx_runtime_options_t *options,
                                                                const char *name) {
    return set_text(options, name, "program name", [&] { options->options.program_name = name; });
}

PYCTX_API pyctx_error_t *pyctx_runtime_options_set_allocator(pyctx_runtime_options_t *options,
                                                             pyctx_allocator allocator) {
    return set_enum(options, static_cast<int>(allocator),
                    {PYCTX_ALLOCATOR_DEFAULT, PYCTX_ALLOCATOR_MALLOC, PYCTX_ALLOCATOR_PYMALLOC},
                    "allocator", "default, malloc or pymalloc",
                    [&](int a) { options->options.allocator = a; });
}

PYCTX_API pyctx_error_t *pyctx_init(const pyctx_runtime_options_t *options) {
    return guarded([&]() -> pyctx_error_t * {
        static const core::RuntimeOptions defaults;
        return capi::to_c(core::Runtime::get().init(options ? options->options : defaults));
    });
}

PYCTX_API pyctx_error_t *pyctx_shutdown(uint32_t timeout_ms) {
    return guarded([&]() { return capi::to_c(core::Runtime::get().shutdown(timeout_ms)); });
}

PYCTX_API pyctx_state pyctx_runtime_state(void) {
    return static_cast<pyctx_state>(core::Runtime::get().state());
}

PYCTX_API const char *pyctx_python_version(void) { return core::Runtime::get().python_version(); }

PYCTX_API int pyctx_owngil_supported(void) { return core::Runtime::owngil_supported() ? 1 : 0; }

}  // extern "C"
