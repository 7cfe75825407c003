// Runtime-wide set-up (core/host/setup_log.h): steps every context replays.
#include <cstdio>

#include "capi/handles.h"
#include "core/host/setup_log.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;
using Kind = core::SetupStep::Kind;

namespace {

pyctx_error_t *append(Kind kind, const char *arg, const char *what) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(arg, what)) return e;
        if (core::Runtime::get().state() == core::State::stopped) return capi::not_running();
        core::setup_log().append(core::SetupStep{kind, arg, {}});
        return nullptr;
    });
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_setup_add_path(const char *path) {
    return append(Kind::add_path, path, "path");
}

PYCTX_API pyctx_error_t *pyctx_setup_remove_path(const char *path) {
    return append(Kind::remove_path, path, "path");
}

PYCTX_API pyctx_error_t *pyctx_setup_import(const char *module) {
    return append(Kind::import_module, module, "module");
}

PYCTX_API pyctx_error_t *pyctx_setup_remove_import(const char *module) {
    return append(Kind::remove_import, module, "module");
}

PYCTX_API pyctx_error_t *pyctx_setup_reload(const char *module) {
    return append(Kind::reload_module, module, "module");
}

PYCTX_API pyctx_error_t *pyctx_setup_activate_venv(const char *venv_dir) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = capi::check_text(venv_dir, "venv_dir")) return e;
        core::Runtime &rt = core::Runtime::get();
        if (!rt.running()) return capi::not_running();
        int major = 0, minor = 0;
        if (std::sscanf(rt.python_version(), "%d.%d", &major, &minor) != 2)
            return capi::make_error(PYCTX_ERR_INTERNAL, "unknown embedded Python version");
        std::string error;
        std::string sp = core::venv_site_packages(venv_dir, major, minor, &error);
        if (sp.empty()) {
            bool mismatch = error.find("is for Python") != std::string::npos;
            return capi::make_error(mismatch ? PYCTX_ERR_UNSUPPORTED : PYCTX_ERR_NOT_FOUND, error);
        }
        core::setup_log().append(core::SetupStep{Kind::activate_venv, sp, venv_dir});
        return nullptr;
    });
}

PYCTX_API uint64_t pyctx_setup_generation(void) { return core::setup_log().generation(); }

}  // extern "C"
