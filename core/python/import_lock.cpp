#include "core/python/import_lock.h"

namespace pyctx::core {

namespace {
// How many times this thread holds the lock.
thread_local std::size_t t_depth = 0;
}  // namespace

ImportLock &ImportLock::get() {
    // Never destroyed: context threads left pinned by a stuck close may
    // still use it while the process exits.
    static ImportLock *lock = new ImportLock;
    return *lock;
}

bool ImportLock::can_enter(const void *interp) const {
    return holders_ == 0 || t_depth > 0 || (interp != nullptr && interp == owner_);
}

void ImportLock::enter(const void *interp) {
    if (holders_ == 0) owner_ = interp;
    ++holders_;
    ++t_depth;
}

bool ImportLock::try_lock(const void *interp) {
    std::lock_guard<std::mutex> g(mu_);
    if (!can_enter(interp)) return false;
    enter(interp);
    return true;
}

void ImportLock::lock(const void *interp) {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [&] { return can_enter(interp); });
    enter(interp);
}

bool ImportLock::lock_for(const void *interp, std::chrono::nanoseconds timeout) {
    std::unique_lock<std::mutex> g(mu_);
    if (!cv_.wait_for(g, timeout, [&] { return can_enter(interp); })) return false;
    enter(interp);
    return true;
}

void ImportLock::unlock() {
    std::lock_guard<std::mutex> g(mu_);
    --t_depth;
    if (--holders_ == 0) {
        owner_ = nullptr;
        cv_.notify_all();
    }
}

}  // namespace pyctx::core
