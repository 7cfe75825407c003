// The process-wide extension import lock. CPython 3.12 and 3.13 crash when
// interpreters with their own GIL create or execute extension modules at the
// same moment (gh-136421: static types readied twice; on 3.12.1 also
// _hashlib, _decimal, _ssl and others), or end an interpreter while another
// imports (gh-136423). Every interpreter pyctx runs takes this lock around
// extension module creation and execution (import_guard.cpp), and interpreter
// creation and teardown take it too.
//
// Holders are counted, not exclusive per thread:
//  - a thread that already holds it enters again (an extension's exec that
//    imports another extension: sqlite3 imports datetime);
//  - a thread of the interpreter that holds it enters too. One interpreter's
//    threads are already serialized by its GIL and CPython orders their
//    imports with per-module locks; excluding them from each other here
//    would only add a deadlock (thread A holds this lock and waits for a
//    module lock that thread B holds while B waits for this lock).
// Only different interpreters exclude each other.
//
// No Python here: `interp` is an identity (a PyInterpreterState pointer, or
// nullptr for "no interpreter yet", e.g. while one is being created).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace pyctx::core {

class ImportLock {
public:
    static ImportLock &get();

    // Enters at once when free, held by this thread, or held by `interp`;
    // false otherwise.
    bool try_lock(const void *interp);
    // Like try_lock, but waits. The caller must hold no GIL (a holder may
    // need any GIL to finish).
    void lock(const void *interp);
    // Like lock, but gives up after `timeout` (false then): for callers with
    // a deadline, e.g. an owngil context creation with a timeout, since an
    // extension whose initialization never returns holds the lock forever.
    bool lock_for(const void *interp, std::chrono::nanoseconds timeout);
    // Leaves once per successful try_lock/lock/lock_for, on the same thread.
    void unlock();

private:
    bool can_enter(const void *interp) const;  // mu_ held
    void enter(const void *interp);            // mu_ held

    std::mutex mu_;
    std::condition_variable cv_;
    const void *owner_ = nullptr;  // the interpreter of the first holder
    std::size_t holders_ = 0;
};

// Holds the lock for a scope; waits without a GIL (see ImportLock::lock).
class ImportLockHold {
public:
    explicit ImportLockHold(const void *interp) { ImportLock::get().lock(interp); }
    ~ImportLockHold() { ImportLock::get().unlock(); }
    ImportLockHold(const ImportLockHold &) = delete;
    ImportLockHold &operator=(const ImportLockHold &) = delete;
};

}  // namespace pyctx::core
