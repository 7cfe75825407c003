// Recycling of request objects. A steady stream of requests would otherwise
// allocate on the submitting thread and free on the context thread, and the
// profile (bench/RESULTS.md) showed malloc/free and glibc's arena lock
// fighting over exactly that as the largest cost of the pipelined path.
#pragma once

#include <vector>

#include "core/base/spin_lock.h"
#include "core/request/request.h"

namespace pyctx::core {

// A process-wide free list of T (a Request subclass whose destroy() calls
// recycle()). Bounded: beyond kCapacity idle objects, freed normally.
template <class T>
class RequestPool {
public:
    static constexpr size_t kCapacity = 4096;

    static T *acquire() {
        Shared &s = shared();
        s.lock.lock();
        if (!s.idle.empty()) {
            T *t = s.idle.back();
            s.idle.pop_back();
            s.lock.unlock();
            return t;
        }
        s.lock.unlock();
        return new T();
    }

    // `t` has been reset to its just-constructed state.
    static void recycle(T *t) {
        Shared &s = shared();
        s.lock.lock();
        if (s.idle.size() < kCapacity) {
            s.idle.push_back(t);
            s.lock.unlock();
            return;
        }
        s.lock.unlock();
        delete t;
    }

private:
    struct Shared {
        SpinLock lock;
        std::vector<T *> idle;
    };
    static Shared &shared() {
        // Leaked on purpose: requests may be released during static teardown.
        static Shared *s = [] {
            auto *p = new Shared();
            p->idle.reserve(kCapacity);
            return p;
        }();
        return *s;
    }
};

// The plain request kinds the C API submits synchronously.
struct PooledRequest final : Request {
    static PooledRequest *make() { return RequestPool<PooledRequest>::acquire(); }

protected:
    void destroy() override {
        reset_for_reuse();
        RequestPool<PooledRequest>::recycle(this);
    }
};

}  // namespace pyctx::core
