// What the registering entry points share (host functions, send endpoints
// and the router, the log handler): the object that holds the host's
// function and user data, installing it so that a failed registration
// leaves the user data with the caller, and removing by name.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "capi/handles.h"
#include "capi/user_data.h"

namespace pyctx::capi {

// The host's function `Fn` and its user data, as a core callback object
// holds them (a base next to the core interface it implements).
template <class Fn>
class HostCallback {
public:
    HostCallback(Fn fn, void *user_data, pyctx_free_fn free_fn)
        : fn_(fn), data_(user_data, free_fn) {}
    void disown() { data_.disown(); }

protected:
    // Calls the host's function with its user data first.
    template <class... Args>
    auto call_fn(Args... args) const {
        return fn_(data_.get(), args...);
    }

private:
    Fn fn_;
    UserData data_;
};

// Makes a `T` of `args` and hands it to `put` (which registers it); if
// `put` throws, the new object is disowned, so the caller keeps the user
// data, and the exception goes on.
template <class T, class Put, class... Args>
void install(Put &&put, Args &&...args) {
    auto object = std::make_shared<T>(std::forward<Args>(args)...);
    try {
        put(object);
    } catch (...) {
        object->disown();
        throw;
    }
}

// The body of an unregister entry point: `remove(name)` is false when
// nothing is registered as `name`, refused as "no <what> named '<name>'".
template <class Remove>
pyctx_error_t *remove_named(const char *name, const char *what, Remove &&remove) noexcept {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_text(name, "name")) return e;
        if (!remove(name))
            return make_error(PYCTX_ERR_NOT_FOUND,
                              std::string("no ") + what + " named '" + name + "'");
        return nullptr;
    });
}

}  // namespace pyctx::capi
