// The bodies of the create and close entry points of handles that own a
// core object (pyctx_context_*, pyctx_pool_*).
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

// Closes `handle`'s core object through `close()` (an Error). The core
// refuses to close from a thread the close would wait for; the message then
// names `free_fn`, the entry point that closes without waiting.
template <class Handle, class Close>
pyctx_error_t *close_handle(Handle *handle, const char *what, const char *free_fn,
                            Close &&close) noexcept {
    return guarded([&]() -> pyctx_error_t * {
        if (!handle) return invalid(std::string(what) + " is NULL");
        core::Error err = close();
        if (err.status == core::Status::invalid_argument)
            err.message += std::string("; use ") + free_fn + ", which closes without waiting";
        return to_c(std::move(err));
    });
}

}  // namespace pyctx::capi
