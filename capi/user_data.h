// The host's user data paired with its finalizer, as every pyctx_*_fn that
// comes with a pyctx_free_fn is: the finalizer runs exactly once, when the
// owner is destroyed (the core let go of the registration), unless the
// registration failed and the owner was disowned, in which case the caller
// keeps the user data, as the header promises.
#pragma once

#include "pyctx.h"

namespace pyctx::capi {

class UserData {
public:
    UserData(void *data, pyctx_free_fn free_fn) : data_(data), free_(free_fn) {}
    ~UserData() {
        if (free_) free_(data_);
    }
    UserData(const UserData &) = delete;
    UserData &operator=(const UserData &) = delete;

    void *get() const { return data_; }
    // Registration failed: the finalizer is not the library's to run.
    void disown() { free_ = nullptr; }

private:
    void *data_;
    pyctx_free_fn free_;
};

}  // namespace pyctx::capi
