// The bodies of the setters of options objects (runtime, context, pool
// options, sandboxes): the NULL check, the setter's own checks, then the
// assignment, guarded. Every *_options_set_* in capi/ goes through here.
#pragma once

#include <initializer_list>
#include <string>
#include <type_traits>

#include "capi/handles.h"

namespace pyctx::capi {

// Every `apply` below returns nothing, or the error of checks of its own
// (nullptr: applied).
template <class F, class... Args>
pyctx_error_t *apply_setting(F &apply, Args... args) {
    if constexpr (std::is_void_v<std::invoke_result_t<F &, Args...>>) {
        apply(args...);
        return nullptr;
    } else {
        return apply(args...);
    }
}

// NULL check of `target` (refused as "<what> is NULL"), then `apply()`,
// guarded.
template <class T, class F>
pyctx_error_t *set_option(T *target, F &&apply, const char *what = "options") noexcept {
    return guarded([&]() -> pyctx_error_t * {
        if (!target) return invalid(std::string(what) + " is NULL");
        return apply_setting(apply);
    });
}

// A text-valued setter: NULL and UTF-8 checks, then `apply()`.
template <class T, class F>
pyctx_error_t *set_text(T *options, const char *text, const char *what, F &&apply,
                        bool allow_empty = false) noexcept {
    return set_option(options, [&]() -> pyctx_error_t * {
        if (auto *e = check_text(text, what, allow_empty)) return e;
        return apply_setting(apply);
    });
}

// An enum-valued setter: `value` (the enum already read as an int, see
// check_enum) must be one of `allowed`, then `apply(value)`.
template <class T, class F>
pyctx_error_t *set_enum(T *options, int value, std::initializer_list<int> allowed,
                        const char *what, const char *expected, F &&apply) noexcept {
    return set_option(options, [&]() -> pyctx_error_t * {
        if (auto *e = check_enum(value, allowed, what, expected)) return e;
        return apply_setting(apply, value);
    });
}

}  // namespace pyctx::capi
