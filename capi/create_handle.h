// The body of the create entry points of handles that own a core object
// (pyctx_context_create, pyctx_pool_create).
#pragma once

#include <memory>
#include <new>
#include <string>

#include "capi/handles.h"

namespace pyctx::capi {

// Makes a `Core` with `options` (NULL: the defaults) through
// `Core::create` and hands it out in a new `Handle{object}` at `*out`;
// `out_what` names `out` in the NULL error.
template <class Core, class Handle, class Options>
pyctx_error_t *create_handle(const Options *options, Handle **out, const char *out_what) noexcept {
    return guarded([&]() -> pyctx_error_t * {
        if (!out) return invalid(std::string(out_what) + " is NULL");
        if (!core::Runtime::get().running()) return not_running();
        std::shared_ptr<Core> object;
        core::Error err =
            Core::create(options ? options->options : decltype(options->options){}, &object);
        if (!err.ok()) return make_error(std::move(err));
        // The handle is not built when its allocation fails, so `object` is
        // still ours to close.
        auto *handle = new (std::nothrow) Handle{std::move(object)};
        if (!handle) {
            object->begin_close();
            return make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
        }
        *out = handle;
        return nullptr;
    });
}

}  // namespace pyctx::capi
